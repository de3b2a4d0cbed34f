"""Metrics read at scrape time from the process's state and the database: broker connections, whether
the store can be read, the failed-message store by target and error class, the age of the oldest
undelivered record per target.

Each hub process is its own scrape target (one /metrics per process; Prometheus sums across them).
Store gauges are the same whichever process reads them, so only processes running the gateway
export them: sum the counters, take max() of these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.envelope import utcnow
from hub.operations.series import LabelSpace
from hub.store.failed import FailedStore
from hub.store.status import StatusStore

log = logging.getLogger(__name__)


class HubCollector(Collector):
    def __init__(
        self,
        *,
        broker_connected: Callable[[], bool],
        consumers: Callable[[], tuple[int, int]],
        stores: tuple[StatusStore, FailedStore] | None,
        space: LabelSpace,
    ) -> None:
        self.broker_connected = broker_connected
        self.consumers = consumers
        self.stores = stores
        self.space = space

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "hub_broker_connected",
            "1 while this process's publisher is connected to the broker",
            value=1 if self.broker_connected() else 0,
        )
        connected, total = self.consumers()
        consuming = GaugeMetricFamily("hub_consumers", "Consumer loops in this process", labels=["state"])
        consuming.add_metric(["connected"], connected)
        consuming.add_metric(["disconnected"], total - connected)
        yield consuming
        if self.stores is not None:
            yield from self._store_gauges(*self.stores)

    def _store_gauges(self, status: StatusStore, failed: FailedStore) -> Iterator[GaugeMetricFamily]:
        """Every target's series, at 0 when nothing waits; when the store cannot be read, `hub_store_up`
        says so and the store's gauges are left out rather than shown as an empty store."""
        targets = self.space.targets
        try:
            waiting = failed.waiting_counts()
            oldest = {target: status.oldest_undelivered(target) for target in targets}
        except Exception as exc:  # a scrape must not fail because the database is slow or gone
            log.warning("the store cannot be read for metrics", extra={"error": str(exc)[:200]})
            yield GaugeMetricFamily(STORE_UP, STORE_UP_HELP, value=0)
            return
        yield GaugeMetricFamily(STORE_UP, STORE_UP_HELP, value=1)
        failed_family = GaugeMetricFamily(
            "hub_failed_messages",
            "Messages in the failed-message store waiting for an operator",
            labels=["target", "error_class"],
        )
        known = {(target, error_class) for target in targets for error_class in self.space.error_classes}
        for (target, error_class), count in sorted({**dict.fromkeys(known, 0), **waiting}.items()):
            failed_family.add_metric([target, error_class], count)
        yield failed_family
        now = utcnow()
        age = GaugeMetricFamily(
            "hub_oldest_undelivered_message_age_seconds",
            "Age of the oldest accepted record not yet delivered to the target or failed (0 when none)",
            labels=["target"],
        )
        for target, accepted_at in oldest.items():
            age.add_metric([target], (now - accepted_at).total_seconds() if accepted_at else 0.0)
        yield age


STORE_UP = "hub_store_up"
STORE_UP_HELP = "1 when this process could read the store at this scrape, 0 when it could not"
