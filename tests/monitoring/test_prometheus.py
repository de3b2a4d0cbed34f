"""A real Prometheus scrapes a running hub under load, as operators run it: `hub serve --role
gateway` and two `hub serve --role worker` processes on RabbitMQ, signatures required both ways,
each process its own scrape target, with RabbitMQ's own exporter beside them and the alert rules
loaded. Counters summed over the processes must equal what reached SPOLIS; every rule must
evaluate; every dashboard query must run. With SPOLIS refusing part of a load, the dashboard's panels
are evaluated as Grafana asks for them and drawn to var/dashboard/ (tests.helpers.panels): the
overview must show what SPOLIS refused, and no overview panel may say "No data"."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from hub.operations.dashboard import DASHBOARD_FILE, queries
from hub.settings import PROJECT_ROOT
from hub.simulation.client import HubClient
from hub.simulation.people import person_code
from hub.simulation.pki import signer_for
from hub.systems import discover
from tests.helpers import ep51, wait_for
from tests.helpers.panels import Panels
from tests.helpers.prometheus import moment

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

MONITORING = PROJECT_ROOT / "monitoring"
ARTEFACTS = PROJECT_ROOT / "var" / "dashboard"  # outside what git tracks, as the benchmark's var/bench
LOAD = {"sopa": 1200, "lietis": 900, "gvs": 600}
QUERIES = 20


def load(gateway: str, pki: Path, unregistered_share: float = 0.0) -> int:
    """The three municipal loads at once, and per-person queries while they run, all signed;
    `unregistered_share` of the records name a provider SPOLIS does not know, so it refuses them."""
    systems = discover()

    def queries_to_vsaa() -> int:
        client = HubClient(gateway, sender="sopa", retries=3, signer=signer_for("sopa", pki))
        try:
            return sum(
                client.call(
                    ep51(person_code(random.Random(n))), destination="vsaa", user_id="rsd.014", purpose="test"
                ).fault
                is None
                for n in range(QUERIES)
            )
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=len(LOAD) + 1) as pool:
        answered = pool.submit(queries_to_vsaa)
        results = [
            pool.submit(
                systems[name].simulator.send,
                gateway,
                records=n,
                batch_size=100,
                concurrency=2,
                seed=60 + i,
                signer=signer_for(name, pki),
                unregistered_share=unregistered_share,
            )
            for i, (name, n) in enumerate(LOAD.items())
        ]
        accepted = sum(r.result(timeout=300).records_accepted for r in results)
        assert answered.result(timeout=300) == QUERIES
    return accepted


def test_prometheus_scrapes_gateway_and_workers_under_load_and_their_sums_add_up(
    hub_processes, prometheus, spolis, broker_prefix, dev_pki
):
    gateway = f"http://127.0.0.1:{hub_processes['gateway']}"
    workers = {f"127.0.0.1:{hub_processes[w]}" for w in ("worker-1", "worker-2")}

    # Each route's record counters are scraped at zero before any traffic, in the processes that count
    # them: `increase()` sees a series from its second sample on, so one born at its total counts none.
    def at_zero(counter: str) -> set[str]:
        found = prometheus.query(f'count by (instance) ({counter}{{flow="F1"}} == 0)')["result"]
        return {r["metric"]["instance"] for r in found}

    wait_for(lambda: at_zero("hub_messages_delivered_total") == workers, timeout=60)
    wait_for(lambda: at_zero("hub_messages_received_total") == {f"127.0.0.1:{hub_processes['gateway']}"}, timeout=60)

    accepted = load(gateway, dev_pki)
    assert accepted == sum(LOAD.values())
    wait_for(lambda: spolis.store.stats()["records"] == accepted, timeout=180)

    # Counters live in the process that counted: received in the gateway, delivered in the workers.
    # Summed over the scrape targets they equal what SPOLIS holds. Each target is scraped on its own
    # schedule, so every figure is awaited until the scrapes after the load have come in.
    def settles(expr: str, expected: float) -> None:
        wait_for(lambda: prometheus.value(expr) == expected, timeout=60)

    settles("sum(hub_messages_delivered_total)", accepted)
    settles("sum(hub_messages_received_total)", accepted)
    settles('sum(hub_messages_received_total{flow="F1"})', accepted)
    settles('sum(hub_query_duration_seconds_count{flow="F5", outcome="answered"})', QUERIES)
    settles("max(hub_broker_connected)", 1)
    settles("sum(hub_failed_messages) or vector(0)", 0)
    by_instance = prometheus.query("sum by (instance) (hub_messages_delivered_total > 0)")["result"]
    assert {r["metric"]["instance"] for r in by_instance} == workers  # both delivered, neither alone
    assert prometheus.value('sum(hub_gateway_requests_total{outcome="ok"})') >= accepted / 100
    assert prometheus.value(f'sum(rabbitmq_detailed_queue_consumers{{queue="{broker_prefix}.deliver.spolis"}})')

    # Every rule evaluates without error against the real series, and none of the paging ones fires:
    # once each has been evaluated again since the figures above settled.
    settled_at = dt.datetime.now(dt.UTC)

    def evaluated_since_settled() -> list[dict]:
        rules = [rule for group in prometheus.get("rules")["groups"] for rule in group["rules"]]
        return rules if all(moment(rule["lastEvaluation"]) > settled_at for rule in rules) else []

    evaluated = wait_for(evaluated_since_settled, timeout=30)
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    assert len(evaluated) == sum(len(g["rules"]) for g in rules["groups"])
    assert [r["name"] for r in evaluated if r["health"] != "ok"] == []
    firing = {a["labels"]["alertname"] for a in prometheus.get("alerts")["alerts"] if a["state"] == "firing"}
    assert not firing & {"HubProcessDown", "HubBrokerDisconnected", "HubTargetCircuitOpen", "HubQueueWithoutConsumers"}

    # Every dashboard query runs; the flows that carried traffic show it.
    dashboard = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    for expr in queries(dashboard):
        prometheus.query(expr)
    for expr in (
        'sum(increase(hub_messages_delivered_total{flow="F1"}[1h]))',
        'histogram_quantile(0.99, sum by (le) (rate(hub_delivery_latency_seconds_bucket{flow="F1"}[5m])))',
        "histogram_quantile(0.99, sum by (le) "
        '(rate(hub_query_duration_seconds_bucket{flow="F5",outcome="answered"}[5m])))',
    ):
        assert expr in "\n".join(queries(dashboard))
        assert prometheus.value(expr), expr


def test_the_dashboard_shows_what_spolis_refused_and_no_overview_panel_is_empty(
    hub_processes, prometheus, spolis, broker_prefix, dev_pki
):
    begun = time.time()
    gateway = f"http://127.0.0.1:{hub_processes['gateway']}"
    spolis.knobs.fault_rate = 0.2  # calls fail now and then and are retried: calls failing, records sent again
    accepted = load(gateway, dev_pki, unregistered_share=0.05)
    spolis.knobs.fault_rate = 0.0

    # Settled: every record is either in SPOLIS's store or counted failed, and the failed-message
    # store holds each failed one. What SPOLIS did not take, it refused.
    def settled() -> bool:
        failed = prometheus.value('sum(hub_messages_failed_total{target="spolis"})')
        in_store = prometheus.value('sum(max by (error_class) (hub_failed_messages{target="spolis"}))')
        return spolis.store.stats()["records"] + failed == accepted and in_store == failed

    wait_for(settled, timeout=180)
    refused = accepted - spolis.store.stats()["records"]
    assert 0 < refused <= spolis.store.stats()["rejected"] and refused < accepted / 10

    dashboard = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    end = time.time()  # after the settled figures were read: the last point of each range is taken here
    panels = Panels(
        dashboard,
        lambda expr: prometheus.query_range(expr, end - round(end - begun + 30), end, 1),
        lambda expr: prometheus.query_range(expr, end, end, 1),
        {"vhost": "/", "prefix": broker_prefix, "target": ".*"},
    )
    drawn = panels.draw(ARTEFACTS)
    print(f"dashboard panels drawn in {ARTEFACTS}: {len(drawn)} PNG files")

    # No "No data" where the on-call person looks: every stat query answers with a value for each
    # tile, and every graph of the overview has a line.
    overview = next(shown for row, shown in panels.rows() if row["title"] == "Overview")
    for panel in overview:
        if panel["type"] == "stat":
            assert panels.unanswered(panel) == [], panel["title"]
            assert "No data" not in {tile.text for tile in panels.shown(panel)}, panel["title"]
        else:
            assert any(s.last is not None for s in panels.series(panel)), panel["title"]

    def tile(row: str, title: str, name: str) -> str:
        return next(t.text for t in panels.shown(panels.titled(row, title)) if t.name == name)

    # What SPOLIS refused is what the dashboard shows: the store holds every refused record, and the
    # failed counter's increase, started at zero, misses none. increase() extrapolates from its last
    # sample to the end of its window, up to a scrape interval (1 s here) over series as old as the test.
    assert tile("Overview", "Failed in store", "spolis") == f"{refused:,}"
    extrapolated = 1 + 1.1 / (end - begun - 1.1)
    for shown in (tile("Overview", "Failed for good, last 15 min", "spolis"), tile("F1", "Last hour", "failed")):
        assert refused <= int(shown.replace(",", "")) <= refused * extrapolated + 1, shown
    assert tile("Overview", "Circuit", "spolis") in {"closed", "half-open", "open"}
    assert tile("Overview", "Store up", "database") == "readable"
    assert tile("Overview", "Hub processes", "down") == "0"
    assert float(tile("Overview", "Calls failing", "spolis").rstrip("%")) > 0
    # The broker's queue panels show this hub's queues only, whatever else the broker holds.
    queues = {s.name for s in panels.series(panels.titled("Broker", "Ready messages by queue"))}
    assert f"{broker_prefix}.deliver.spolis" in queues
    assert all(q.startswith(f"{broker_prefix}.") for q in queues), queues
