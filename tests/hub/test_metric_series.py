"""Every series an alert or a panel reads is there before the first event: counters from zero for
every label set the configuration allows, the store's gauges at zero per target, and a store that
cannot be read said so instead of its gauges vanishing."""

from __future__ import annotations

import httpx
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from hub import metrics
from hub.operations.series import SERIES, UNENUMERABLE, LabelSpace
from tests.helpers import factory, metric, submit, wait_for


def labelled_metrics() -> list[MetricWrapperBase]:
    found = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    return [m for m in found if m._labelnames]


def samples(url: str) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Each sample name's label sets on the /metrics at `url`."""
    found: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for s in family.samples:
            found.setdefault(s.name, set()).add(tuple(sorted(s.labels.items())))
    return found


def test_every_labelled_metric_is_started_at_zero_or_says_why_not():
    for m in labelled_metrics():
        assert (m in SERIES) != (m in UNENUMERABLE), f"{m._name}: add it to SERIES (or UNENUMERABLE, with why)"


def test_a_started_hub_exports_every_series_the_configuration_allows(start_hub):
    hub = start_hub()
    exported = samples(hub.gateway_url)
    space = LabelSpace.of(hub.router, hub.access, hub.systems)
    assert space.records and space.queries and space.requests and "target_timeout" in space.error_classes
    for m, (_, starts) in SERIES.items():
        name = m._name + ("_count" if m._type == "histogram" else "_total" if m._type == "counter" else "")
        wanted = {tuple(sorted(zip(m._labelnames, labels, strict=True))) for labels in starts(space)}
        assert wanted, m._name
        missing = wanted - exported.get(name, set())
        assert not missing, f"{name}: {len(missing)} label sets missing, e.g. {sorted(missing)[:2]}"
    # a failure class before its first failure: what `increase()` needs to see the first burst whole
    assert ("error_class", "target_rejected") in dict.fromkeys(
        pair for labels in exported["hub_messages_failed_total"] for pair in labels
    )


def test_store_gauges_per_target_at_zero_and_a_store_that_cannot_be_read(start_hub, spolis):
    hub = start_hub()
    url = hub.gateway_url
    targets = set(hub.router.targets)
    assert {dict(s)["target"] for s in samples(url)["hub_oldest_undelivered_message_age_seconds"]} == targets
    failed = samples(url)["hub_failed_messages"]
    assert len(failed) == len(targets) * len(LabelSpace.of(hub.router, hub.access, hub.systems).error_classes)
    assert metric(url, "hub_failed_messages") == 0 and metric(url, "hub_store_up") == 1

    spolis.stop()
    submit(hub, factory(41).batch(3))
    wait_for(lambda: metric(url, "hub_oldest_undelivered_message_age_seconds", {"target": "spolis"}) > 0.2)
    assert metric(url, "hub_oldest_undelivered_message_age_seconds", {"target": "vsaa"}) == 0

    with hub.db.engine.begin() as conn:  # the store's table gone: as a database that refuses the hub
        conn.execute(text("ALTER TABLE failed_messages RENAME TO failed_messages_away"))
    try:
        assert metric(url, "hub_store_up") == 0
        assert "hub_failed_messages" not in samples(url), "an unreadable store must not look empty"
    finally:
        with hub.db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE failed_messages_away RENAME TO failed_messages"))
    assert metric(url, "hub_store_up") == 1
    spolis.start()
    wait_for(lambda: metric(url, "hub_oldest_undelivered_message_age_seconds", {"target": "spolis"}) == 0, timeout=60)
