"""monitoring/ holds what operators load: the rules pass promtool's checks and unit tests, the
dashboard is the one the routes generate, and every metric the rules and the dashboard name is one
the hub or RabbitMQ really exports."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hub.cli import main
from hub.operations.dashboard import DASHBOARD_FILE, build, every_panel, queries
from hub.rules.access import load_rules
from hub.rules.routing import Router
from hub.settings import PROJECT_ROOT, Settings
from hub.systems import discover
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


def test_every_panel_and_query_names_the_datasource_variable_and_import_asks_for_it():
    panels = list(every_panel(DASHBOARD))
    assert panels
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
    assert [(i["name"], i["type"], i["pluginId"]) for i in DASHBOARD["__inputs"]] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")
    ]
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    # Imported, the chosen datasource replaces ${DS_PROMETHEUS}; provisioned, the variable takes the one
    # Prometheus datasource there, which provisioning makes the default.
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    assert variables["datasource"]["current"]["value"] == "${DS_PROMETHEUS}"
    assert "${DS_PROMETHEUS}" not in json.dumps(DASHBOARD["panels"])
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]
    provisioned = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (source,) = provisioned["datasources"]
    assert (source["type"], source["isDefault"]) == ("prometheus", True)
    used = {name for expr in queries(DASHBOARD) for name in re.findall(r"\$\{?(\w+)", expr)}
    assert used <= set(variables) - {"datasource"}


def test_every_broker_query_keeps_to_the_hubs_vhost_and_queue_prefix():
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["prefix"]["current"]["value"] == Settings().broker_prefix
    assert variables["vhost"]["current"]["value"] == "/"
    regex = variables["prefix"]["regex"].strip("/")
    assert re.match(regex, "hub.deliver.spolis")[1] == "hub"
    assert re.match(regex, "hubtest-1a2b.retry.30s")[1] == "hubtest-1a2b"
    assert re.match(regex, "hub.dead")[1] == "hub"
    (broker,) = [p for p in DASHBOARD["panels"] if p["type"] == "row" and p["title"].startswith("Broker")]
    per_queue = 0
    for panel in every_panel(DASHBOARD):
        for target in panel["targets"]:
            for selector in re.findall(r"\b(rabbitmq_\w+)(\{(?:\$\{\w+\}|[^{}])*\})?", target["expr"]):
                if selector[0].startswith("rabbitmq_detailed_"):
                    per_queue += 1
                    assert 'vhost="$vhost"' in selector[1] and 'queue=~"${prefix}\\\\.' in selector[1], target["expr"]
                else:  # RabbitMQ counts these per node only: the panel says so
                    assert panel in broker["panels"] and "(whole broker)" in panel["title"], target["expr"]
    assert per_queue >= 3


def test_detail_rows_are_collapsed_and_the_overview_is_open_with_tiles_that_turn_red():
    rows = [p for p in DASHBOARD["panels"] if p["type"] == "row"]
    assert rows[0]["title"] == "Overview" and not rows[0]["collapsed"] and rows[0]["panels"] == []
    assert all(row["collapsed"] and row["panels"] for row in rows[1:])
    overview = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    assert len(overview) == len(list(every_panel(DASHBOARD))) - sum(len(r["panels"]) for r in rows)
    stats = [p for p in overview if p["type"] == "stat"]
    assert len(stats) >= 10
    for panel in stats:
        steps = [panel["fieldConfig"]["defaults"]["thresholds"]["steps"]] + [
            p["value"]["steps"]
            for o in panel["fieldConfig"]["overrides"]
            for p in o["properties"]
            if p["id"] == "thresholds"
        ]
        colours = {step["color"] for s in steps for step in s}
        assert "red" in colours or panel["title"] == "Versions running", panel["title"]
    titles = {p["title"]: p for p in overview}
    circuit = titles["Circuit"]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {v["text"]: v["color"] for v in circuit.values()} == {
        "closed": "green",
        "half-open": "orange",
        "open": "red",
    }
    assert [s["value"] for s in titles["Oldest undelivered"]["fieldConfig"]["defaults"]["thresholds"]["steps"]][
        -1
    ] == 3600
    for target in titles["Alerts firing"]["targets"]:
        assert target["expr"].endswith("or vector(0)")
    for name in ("Circuit", "Calls failing", "Failed in store", "Oldest undelivered"):
        assert all('target=~"$target"' in t["expr"] for t in titles[name]["targets"]), name
    # Panels do not overlap on Grafana's 24-column grid.
    cells = [
        (p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy)
        for p in overview
        for dx in range(p["gridPos"]["w"])
        for dy in range(p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)) and max(x for x, _ in cells) < 24


def test_a_new_flow_gets_its_own_collapsed_row():
    router, access = load_rules(Settings(), discover())
    route = next(r for r in router.routes.values() if r.flow == "F1")
    extra = Router({**router.routes, "test.extra.v1": dataclasses.replace(route, flow="F9")}, router.breakers)
    document = build(extra, access, discover())
    (row,) = [p for p in document["panels"] if p["type"] == "row" and p["title"].startswith("F9 ")]
    assert row["collapsed"] and any('flow="F9"' in t["expr"] for p in row["panels"] for t in p["targets"])
