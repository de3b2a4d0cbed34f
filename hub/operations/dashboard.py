"""The Grafana dashboard operators load, generated from the routes (and the access table, for who
sends on each flow) so that every flow has its row: record flows show accepted / delivered /
failed and the delivery latency, query flows the answers, their time and the deadlines passed. An
overview row opens the dashboard, the gateway and the broker close it. `hub dashboard --check`
fails when the committed file no longer matches the routes (a flow added or changed).

Every series is summed over processes (one scrape target each); gauges every gateway reads from
the same database (failed store, oldest record) are taken with max().
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from hub.rules.access import AccessTable
from hub.rules.routing import Router
from hub.settings import PROJECT_ROOT
from hub.systems import SystemAdapter

DASHBOARD_FILE = PROJECT_ROOT / "monitoring" / "grafana" / "dashboards" / "hub.json"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
WIDTH, HEIGHT = 8, 7


@dataclass(frozen=True)
class Panel:
    title: str
    targets: Sequence[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    description: str = ""
    kind: str = "timeseries"


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]


@dataclass
class Flow:
    name: str
    kind: str
    sources: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


def flows(router: Router, access: AccessTable) -> list[Flow]:
    found: dict[str, Flow] = {}
    for type_, route in router.routes.items():
        flow = found.setdefault(route.flow, Flow(route.flow, route.kind))
        flow.sources.update(access.senders(type_))
        flow.targets.update(route.possible_targets)
        flow.types.add(type_)
    return [found[name] for name in sorted(found, key=lambda n: (len(n), n))]


def _label(systems: Mapping[str, SystemAdapter], names: set[str]) -> str:
    return ", ".join(systems[n].title.split(" (")[0] if n in systems else n.upper() for n in sorted(names))


def _percentiles(buckets: str) -> list[tuple[str, str]]:
    """p50 and p99 of a histogram's bucket selector, over every process."""
    return [(f"histogram_quantile({q}, sum by (le) (rate({buckets}[5m])))", f"p{round(q * 100)}") for q in (0.5, 0.99)]


def overview() -> Row:
    return Row(
        "Overview",
        [
            Panel(
                "Alerts firing",
                [('sum by (alertname, severity) (ALERTS{alertstate="firing"})', "{{alertname}} ({{severity}})")],
                description="The hub's alert rules that fire now; docs/operations.md says what to do.",
            ),
            Panel(
                "Records per second, every flow",
                [
                    ("sum(rate(hub_messages_received_total[5m]))", "accepted"),
                    ("sum(rate(hub_messages_delivered_total[5m]))", "delivered"),
                    ("sum by (error_class) (rate(hub_messages_failed_total[5m]))", "failed: {{error_class}}"),
                ],
                unit="ops",
            ),
            Panel(
                "Failed-message store",
                [("max by (error_class) (hub_failed_messages)", "{{error_class}}")],
                description="Messages waiting for an operator: `hub failed list` groups them by reason.",
            ),
            Panel(
                "Oldest undelivered record",
                [("max(hub_oldest_undelivered_message_age_seconds)", "age")],
                unit="s",
                description="Age of the oldest accepted record neither delivered nor failed; 0 when none waits.",
            ),
            Panel(
                "Circuit per target (0 closed, 1 half-open, 2 open)",
                [("max by (target) (hub_target_circuit_state)", "{{target}}")],
                description="Open: the hub stopped calling the target; messages wait in RabbitMQ.",
            ),
            Panel(
                "Calls to targets by outcome",
                [("sum by (target, outcome) (rate(hub_delivery_attempts_total[5m]))", "{{target}} {{outcome}}")],
                unit="reqps",
            ),
            Panel(
                "Retries, replays and duplicates per second",
                [
                    ("sum by (target) (rate(hub_retries_scheduled_total[5m]))", "retry scheduled: {{target}}"),
                    ("sum by (target) (rate(hub_replays_total[5m]))", "replayed: {{target}}"),
                    ("sum by (target) (rate(hub_deduplicated_total[5m]))", "already delivered: {{target}}"),
                    ("sum by (target) (rate(hub_target_duplicates_total[5m]))", "target had it: {{target}}"),
                ],
                unit="ops",
            ),
            Panel(
                "Hub processes",
                [
                    ('count(up{job="hub"} == 1)', "processes up"),
                    ("sum(hub_broker_connected)", "publishers connected"),
                    ("sum by (state) (hub_consumers)", "consumers {{state}}"),
                ],
            ),
            Panel("Versions running", [("count by (version) (hub_build_info)", "{{version}}")]),
        ],
    )


def record_flow(flow: Flow, systems: Mapping[str, SystemAdapter]) -> Row:
    match = f'flow="{flow.name}"'
    return Row(
        f"{flow.name} {_label(systems, flow.sources)} → {_label(systems, flow.targets)}",
        [
            Panel(
                "Accepted, delivered, failed per second",
                [
                    (f"sum by (source) (rate(hub_messages_received_total{{{match}}}[5m]))", "accepted from {{source}}"),
                    (f"sum by (target) (rate(hub_messages_delivered_total{{{match}}}[5m]))", "delivered to {{target}}"),
                    (
                        f"sum by (error_class) (rate(hub_messages_failed_total{{{match}}}[5m]))",
                        "failed: {{error_class}}",
                    ),
                ],
                unit="ops",
                description="Types: " + ", ".join(sorted(flow.types)),
            ),
            Panel(
                "Delivery latency, receipt to target",
                _percentiles(f"hub_delivery_latency_seconds_bucket{{{match}}}"),
                unit="s",
            ),
            Panel(
                "Last hour",
                [
                    (f"sum(increase(hub_messages_received_total{{{match}}}[1h]))", "accepted"),
                    (f"sum(increase(hub_messages_delivered_total{{{match}}}[1h]))", "delivered"),
                    (f"sum(increase(hub_messages_failed_total{{{match}}}[1h]))", "failed"),
                ],
                kind="stat",
            ),
        ],
    )


def query_flow(flow: Flow, systems: Mapping[str, SystemAdapter]) -> Row:
    match = f'flow="{flow.name}"'
    targets = "|".join(sorted(flow.targets))
    return Row(
        f"{flow.name} {_label(systems, flow.sources)} ask {_label(systems, flow.targets)}",
        [
            Panel(
                "Queries per second by outcome",
                [
                    (
                        f"sum by (source, outcome) (rate(hub_query_duration_seconds_count{{{match}}}[5m]))",
                        "{{source}} {{outcome}}",
                    )
                ],
                unit="reqps",
                description="Types: " + ", ".join(sorted(flow.types)),
            ),
            Panel(
                "Answer time",
                _percentiles(f'hub_query_duration_seconds_bucket{{{match},outcome="answered"}}'),
                unit="s",
            ),
            Panel(
                "Deadlines passed",
                [
                    (
                        f'sum(rate(hub_query_duration_seconds_count{{{match},outcome="deadline_exceeded"}}[5m]))',
                        "caller got 'retry later'",
                    ),
                    (
                        f'sum(rate(hub_query_expired_total{{target=~"{targets}"}}[5m]))',
                        "expired before a worker took it",
                    ),
                ],
                unit="reqps",
            ),
        ],
    )


def gateway() -> Row:
    return Row(
        "Gateway",
        [
            Panel(
                "SOAP requests per second",
                [("sum by (system, outcome) (rate(hub_gateway_requests_total[5m]))", "{{system}} {{outcome}}")],
                unit="reqps",
            ),
            Panel(
                "Request time by operation",
                [
                    (
                        "histogram_quantile(0.99, sum by (le, operation) "
                        "(rate(hub_gateway_request_duration_seconds_bucket[5m])))",
                        "p99 {{operation}}",
                    ),
                    (
                        "histogram_quantile(0.5, sum by (le) (rate(hub_gateway_request_duration_seconds_bucket[5m])))",
                        "p50 every operation",
                    ),
                ],
                unit="s",
            ),
            Panel(
                "Refused inputs by sender and rule",
                [("sum by (system, rule) (rate(hub_validation_failures_total[5m]))", "{{system}} {{rule}}")],
                unit="ops",
                description="Each broken rule of a refused request; the sender got a Fault naming field and rule.",
            ),
            Panel(
                "Query answers that came too late",
                [("sum(rate(hub_query_late_replies_total[5m]))", "late answers dropped")],
                unit="ops",
            ),
        ],
    )


def broker() -> Row:
    return Row(
        "Broker",
        [
            Panel(
                "Ready messages by queue",
                [("sum by (queue) (rabbitmq_detailed_queue_messages_ready)", "{{queue}}")],
            ),
            Panel(
                "Unacknowledged messages by queue",
                [("sum by (queue) (rabbitmq_detailed_queue_messages_unacked)", "{{queue}}")],
            ),
            Panel(
                "Consumers by queue",
                [("sum by (queue) (rabbitmq_detailed_queue_consumers)", "{{queue}}")],
            ),
            Panel(
                "Published, delivered, acknowledged per second",
                [
                    ("sum(rate(rabbitmq_global_messages_received_total[5m]))", "published"),
                    ("sum(rate(rabbitmq_global_messages_confirmed_total[5m]))", "confirmed"),
                    ("sum(rate(rabbitmq_global_messages_delivered_total[5m]))", "delivered"),
                    ("sum(rate(rabbitmq_global_messages_acknowledged_total[5m]))", "acknowledged"),
                ],
                unit="ops",
            ),
            Panel(
                "Unroutable and dead-lettered per second",
                [
                    ("sum(rate(rabbitmq_global_messages_unroutable_returned_total[5m]))", "unroutable, returned"),
                    ("sum(rate(rabbitmq_global_messages_unroutable_dropped_total[5m]))", "unroutable, dropped"),
                    (
                        "sum(rate(rabbitmq_global_messages_dead_lettered_delivery_limit_total[5m]))",
                        "dead-lettered: delivery limit (poison)",
                    ),
                    ("sum(rate(rabbitmq_global_messages_dead_lettered_expired_total[5m]))", "dead-lettered: retry due"),
                ],
                unit="ops",
            ),
            Panel(
                "Nodes up and alarms",
                [
                    ('count(up{job="rabbitmq"} == 1)', "nodes up"),
                    ("sum(rabbitmq_alarms_memory_used_watermark)", "memory alarms"),
                    ("sum(rabbitmq_alarms_free_disk_space_watermark)", "disk alarms"),
                ],
            ),
        ],
    )


def rows(router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> Iterator[Row]:
    yield overview()
    for flow in flows(router, access):
        yield query_flow(flow, systems) if flow.kind == "query" else record_flow(flow, systems)
    yield gateway()
    yield broker()


def _panel(panel: Panel, ident: int, x: int, y: int) -> dict[str, object]:
    document: dict[str, object] = {
        "id": ident,
        "title": panel.title,
        "type": panel.kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": WIDTH, "h": HEIGHT},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for n, (expr, legend) in enumerate(panel.targets)
        ],
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"]}} if panel.kind == "stat" else {},
    }
    if panel.description:
        document["description"] = panel.description
    return document


def build(router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> dict[str, object]:
    panels: list[dict[str, object]] = []
    y = 0
    for row in rows(router, access, systems):
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        y += 1
        per_line = 24 // WIDTH
        for n, panel in enumerate(row.panels):
            panels.append(_panel(panel, len(panels) + 1, (n % per_line) * WIDTH, y + (n // per_line) * HEIGHT))
        y += -(-len(row.panels) // per_line) * HEIGHT
    return {
        "uid": "welfare-hub",
        "title": "Welfare data-exchange hub",
        "description": "Generated by `hub dashboard` from config/routes.toml: a row per flow.",
        "tags": ["hub"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render(router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> bytes:
    return (json.dumps(build(router, access, systems), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def queries(document: Mapping[str, object]) -> list[str]:
    """Every PromQL expression of a dashboard document."""
    return [t["expr"] for p in document["panels"] for t in p.get("targets", [])]  # type: ignore[attr-defined,index]
