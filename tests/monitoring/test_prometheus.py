"""A real Prometheus scrapes a running hub under load, as operators run it: `hub serve --role
gateway` and two `hub serve --role worker` processes on RabbitMQ, signatures required both ways,
each process its own scrape target, with RabbitMQ's own exporter beside them and the alert rules
loaded. Counters summed over the processes must equal what reached SPOLIS; every rule must
evaluate; every dashboard query must run."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from hub.operations.dashboard import DASHBOARD_FILE, queries
from hub.settings import PROJECT_ROOT
from hub.simulation.client import HubClient
from hub.simulation.local import free_port
from hub.simulation.people import person_code
from hub.simulation.pki import hub_verifier, signer_for
from hub.systems import discover
from tests.helpers import ep51, ready, required_tool, serve, serve_env, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

MONITORING = PROJECT_ROOT / "monitoring"
LOAD = {"sopa": 1200, "lietis": 900, "gvs": 600}
QUERIES = 20


class Prometheus:
    def __init__(self, url: str) -> None:
        self.api = f"{url}/api/v1"

    def query(self, expr: str) -> dict:
        answer = httpx.get(f"{self.api}/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)["result"]
        return float(result[0]["value"][1]) if result else None

    def get(self, path: str) -> dict:
        return httpx.get(f"{self.api}/{path}", timeout=10).json()["data"]


@pytest.fixture
def hub_processes(amqp_url, broker_prefix, spolis, vsaa, dev_pki, tmp_path) -> Iterator[dict[str, int]]:
    """Gateway and two workers, each a `hub serve` process on its own port, sharing store and broker,
    with signatures required both ways as in production."""
    for target in (spolis, vsaa):
        target.service.server.verifier = hub_verifier(dev_pki)
    env = serve_env(
        amqp_url,
        broker_prefix,
        tmp_path,
        dev_pki,
        endpoints={"spolis": spolis.endpoint, "vsaa": vsaa.endpoint},
        workers_per_target=1,
        log_level="WARNING",
    )
    ports = {"gateway": free_port(), "worker-1": free_port(), "worker-2": free_port()}
    processes = {}
    try:
        processes["gateway"] = serve("gateway", ports["gateway"], env, tmp_path / "gateway.log")
        wait_for(lambda: ready(ports["gateway"]), timeout=60)  # the gateway declares the topology first
        for name in ("worker-1", "worker-2"):
            processes[name] = serve("worker", ports[name], env, tmp_path / f"{name}.log")
        wait_for(lambda: all(ready(p) for p in ports.values()), timeout=60)
        yield ports
    finally:
        for process in processes.values():
            process.terminate()
        for name, process in processes.items():
            process.wait(timeout=60)
            assert process.returncode in (0, -15), (tmp_path / f"{name}.log").read_text()


@pytest.fixture
def prometheus(hub_processes, rabbitmq_metrics_url, tmp_path) -> Iterator[Prometheus]:
    """The repository's scrape jobs and rules, pointed at this test's processes and RabbitMQ."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text(encoding="utf-8"))
    broker = rabbitmq_metrics_url.split("://", 1)[1]
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(MONITORING / "alerts.yml")]
    for job in config["scrape_configs"]:
        local = [f"127.0.0.1:{p}" for p in hub_processes.values()] if job["job_name"] == "hub" else [broker]
        job["static_configs"] = [{"targets": local}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            required_tool("prometheus", "prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:
        wait_for(lambda: _answers(server) and server.value('count(up{job="hub"} == 1)') == 3, timeout=60)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def _moment(stamp: str) -> dt.datetime:
    """Prometheus's RFC 3339 time (nanoseconds, Z) as a datetime."""
    return dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00"))


def _answers(server: Prometheus) -> bool:
    try:
        return httpx.get(f"{server.api}/status/buildinfo", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def load(gateway: str, pki: Path) -> int:
    """The three municipal loads at once, and per-person queries while they run, all signed."""
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
        return rules if all(_moment(rule["lastEvaluation"]) > settled_at for rule in rules) else []

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
