"""What the monitoring tests run against: RabbitMQ's rabbitmq_prometheus plugin (enabled by .ci/run),
a hub served as operators run it (a gateway and two workers, each its own process and scrape target)
and a real Prometheus scraping them with the alert rules loaded. The commands they run, promtool and
prometheus (Debian's `prometheus` package, installed by .ci/run), are found by
tests.helpers.required_tool.

A test module changes what the hub or Prometheus run with by overriding `served_settings` (settings of
the `hub serve` processes) or `alert_rules` (the rule file Prometheus loads)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hub.settings import PROJECT_ROOT
from hub.simulation.local import free_port
from hub.simulation.pki import hub_verifier
from tests.helpers import missing, ready, required_tool, serve, serve_env, wait_for
from tests.helpers.prometheus import Prometheus

RABBITMQ_METRICS_URL = os.environ.get("HUB_TEST_RABBITMQ_METRICS_URL", "http://127.0.0.1:15692")
MONITORING = PROJECT_ROOT / "monitoring"


@pytest.fixture(scope="session")
def rabbitmq_metrics_url(amqp_url: str) -> str:
    try:
        httpx.get(f"{RABBITMQ_METRICS_URL}/metrics", timeout=5).raise_for_status()
    except httpx.HTTPError:
        missing(f"RabbitMQ's prometheus plugin does not answer at {RABBITMQ_METRICS_URL} (.ci/run enables it)")
    return RABBITMQ_METRICS_URL


@pytest.fixture
def served_settings() -> dict[str, Any]:
    """Settings the `hub serve` processes get beyond the test defaults: none."""
    return {}


@pytest.fixture
def alert_rules() -> Path:
    """The rule file Prometheus loads: the repository's."""
    return MONITORING / "alerts.yml"


@pytest.fixture
def hub_processes(
    amqp_url, broker_prefix, spolis, vsaa, dev_pki, tmp_path, served_settings
) -> Iterator[dict[str, int]]:
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
        **served_settings,
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
def prometheus(hub_processes, rabbitmq_metrics_url, tmp_path, alert_rules) -> Iterator[Prometheus]:
    """The repository's scrape jobs and `alert_rules`, pointed at this test's processes and RabbitMQ,
    scraping and evaluating every second."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text(encoding="utf-8"))
    broker = rabbitmq_metrics_url.split("://", 1)[1]
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(alert_rules)]
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
        wait_for(lambda: server.answers() and server.value('count(up{job="hub"} == 1)') == 3, timeout=60)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
