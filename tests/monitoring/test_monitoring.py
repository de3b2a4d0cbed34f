"""monitoring/ holds what operators load: the rules pass promtool's checks and unit tests, the
dashboard is the one the routes generate, and every metric the rules and the dashboard name is one
the hub or RabbitMQ really exports."""

from __future__ import annotations

import json
import re
import subprocess

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hub.cli import main
from hub.operations.dashboard import DASHBOARD_FILE, queries
from hub.settings import PROJECT_ROOT
from tests.helpers import factory, required_tool, submit, wait_for

MONITORING = PROJECT_ROOT / "monitoring"
RULES = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
DASHBOARD = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
NAME = re.compile(r"\b((?:hub|rabbitmq)_[a-z_]+|up)\b(?!\s*\()")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}


def every_query() -> list[str]:
    return [rule["expr"] for group in RULES["groups"] for rule in group["rules"]] + queries(DASHBOARD)


def exported(url: str) -> set[str]:
    """Every sample name a /metrics endpoint declares, with or without samples yet."""
    text = httpx.get(url, timeout=10).text
    return {f.name + s for f in text_string_to_metric_families(text) for s in SUFFIXES.get(f.type, ("",))}


def test_promtool_checks_and_unit_tests_the_rules():
    promtool = required_tool("promtool", "prometheus")
    checked = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=MONITORING, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tested_alerts = set(re.findall(r"alertname: (\w+)", (MONITORING / "alerts_test.yml").read_text()))
    assert tested_alerts == {rule["alert"] for group in RULES["groups"] for rule in group["rules"]}


def test_promtool_accepts_the_prometheus_configuration():
    checked = subprocess.run(
        [required_tool("promtool", "prometheus"), "check", "config", "--syntax-only", "prometheus.yml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_a_runbook_and_a_severity():
    for group in RULES["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
            assert len(rule["annotations"]["runbook"]) > 40, rule["alert"]
            assert rule["alert"] in (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8"), rule["alert"]


def test_the_dashboard_is_generated_from_the_routes_with_a_row_per_flow():
    assert main(["dashboard", "--check"]) == 0
    rows = [p["title"] for p in DASHBOARD["panels"] if p["type"] == "row"]
    assert [r.split()[0] for r in rows] == ["Overview", *(f"F{n}" for n in range(1, 9)), "Gateway", "Broker"]
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))


def test_a_stale_dashboard_is_found(tmp_path):
    stale = tmp_path / "hub.json"
    stale.write_text("{}", encoding="utf-8")
    assert main(["dashboard", "--check", "--output", str(stale)]) == 1
    assert main(["dashboard", "--output", str(stale)]) == 0
    assert stale.read_bytes() == DASHBOARD_FILE.read_bytes()


def test_every_metric_the_rules_and_dashboard_use_is_exported(start_hub, amqp_url, spolis, rabbitmq_metrics_url):
    hub = start_hub(amqp_url)
    submit(hub, factory(41).batch(3))
    wait_for(lambda: hub.store.counts().get("delivered") == 3)
    available = (
        exported(f"{hub.gateway_url}/metrics")
        | exported(f"{rabbitmq_metrics_url}/metrics")
        | exported(f"{rabbitmq_metrics_url}/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count")
        | {"up"}
    )
    used = {name for expr in every_query() for name in NAME.findall(expr)}
    assert used - available == set(), "queries name metrics nobody exports"
    assert len({n for n in used if n.startswith("hub_")}) >= 20
