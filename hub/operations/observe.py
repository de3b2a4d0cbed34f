"""Metrics read at scrape time from the process's state and the database: broker connections, the
failed-message store by error class, the age of the oldest undelivered record.

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
    ) -> None:
        self.broker_connected = broker_connected
        self.consumers = consumers
        self.stores = stores

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
        if self.stores is None:
            return
        status, failed = self.stores
        try:
            by_class = failed.count_by_error_class()
            oldest = status.oldest_undelivered()
        except Exception as exc:  # a scrape must not fail because the database is slow or gone
            log.warning("store metrics unavailable", extra={"error": str(exc)[:200]})
            return
        failed_family = GaugeMetricFamily(
            "hub_failed_messages",
            "Messages in the failed-message store waiting for an operator",
            labels=["error_class"],
        )
        for error_class, count in sorted(by_class.items()):
            failed_family.add_metric([error_class], count)
        yield failed_family
        yield GaugeMetricFamily(
            "hub_oldest_undelivered_message_age_seconds",
            "Age of the oldest accepted record not yet delivered or failed (0 when none)",
            value=(utcnow() - oldest).total_seconds() if oldest else 0.0,
        )
