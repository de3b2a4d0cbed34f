"""The Grafana dashboard operators load, generated from the routes (and the access table, for who
sends on each flow) so that every flow has its row: record flows show accepted / delivered /
failed and the delivery latency, query flows the answers, their time and the deadlines passed.
`hub dashboard --check` fails when the committed file no longer matches the routes.

The overview row opens the dashboard, expanded: one tile per target that turns red where an alert
would fire, so the on-call person sees what broke and where before opening anything. The flow,
gateway and broker rows below are collapsed (Grafana keeps a collapsed row's panels inside it).

Every panel and query names its datasource through the `datasource` variable, and `__inputs` asks
for it on import, so the file imports into any Grafana; provisioned, the variable takes the one
Prometheus there. Broker queries are filtered by the `vhost` and `prefix` variables: a RabbitMQ
shared with other applications or other hubs shows only this hub's queues.

Counters are summed over processes (one scrape target each); gauges every gateway reads from the
same database (failed store, oldest record, store up) are taken with max() or min().
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from hub.rules.access import AccessTable
from hub.rules.routing import Router
from hub.settings import PROJECT_ROOT, Settings
from hub.systems import SystemAdapter

DASHBOARD_FILE = PROJECT_ROOT / "monitoring" / "grafana" / "dashboards" / "hub.json"
INPUT = "DS_PROMETHEUS"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID = 24

# Filters the variables stand for: the targets chosen, and this hub's queues in its virtual host.
TARGETS = 'target=~"$target"'
QUEUES = 'vhost="$vhost",queue=~"${prefix}\\\\..+"'
WORK_QUEUES = 'vhost="$vhost",queue=~"${prefix}\\\\.(deliver|query)\\\\..+"'
WHOLE_BROKER = "(whole broker)"

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"
Steps = tuple[tuple[float | None, str], ...]  # (from value, colour); the first starts at -infinity
Mappings = tuple[tuple[int, str, str], ...]  # (value, text, colour)
ANY_IS_BAD: Steps = ((None, GREEN), (1, RED))
ANY_NEEDS_A_LOOK: Steps = ((None, GREEN), (1, ORANGE))
NONE_IS_BAD: Steps = ((None, RED), (1, GREEN))
PLAIN: Steps = ((None, BLUE),)
CIRCUIT: Mappings = ((0, "closed", GREEN), (1, "half-open", ORANGE), (2, "open", RED))


class Query(NamedTuple):
    expr: str
    legend: str
    steps: Steps | None = None  # this query's own thresholds, instead of the panel's
    mappings: Mappings | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    queries: Sequence[Query | tuple[str, str]]
    unit: str = "short"
    description: str = ""
    kind: str = "timeseries"  # timeseries, stat or state-timeline
    steps: Steps | None = None  # thresholds: a stat's colours, a time series' dashed lines
    mappings: Mappings = ()
    decimals: int | None = None
    no_value: str = ""  # what a stat says when the query has no series
    width: int = 8
    height: int = 7


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]
    collapsed: bool = True


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


def _percentiles(buckets: str, by: str = "", legend: str = "") -> list[Query]:
    """p50 and p99 of a histogram's bucket selector over every process, per `by` label if given."""
    return [
        Query(
            f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({buckets}[5m])))",
            f"p{round(q * 100)}{' ' + legend if legend else ''}",
        )
        for q in (0.5, 0.99)
    ]


def _failing_share(window: str) -> str:
    """Per target, the share of calls in `window` that failed as HubTargetFailing counts them
    (unreachable or too slow) among those and the calls that succeeded: 1 exactly when the alert's
    condition holds, 0 for a target nobody called."""
    calls = "sum by (target) (increase(hub_target_call_duration_seconds_count{%s}[%s]))"
    failed = calls % (f'{TARGETS},outcome=~"target_unavailable|target_timeout"', window)
    ok = calls % (f'{TARGETS},outcome="ok"', window)
    return f"({failed} / (({failed} + {ok}) > 0)) or ({ok} * 0)"


def _per_target(counter: str, by: str = "") -> str:
    """A counter's rate per target (and `by`), only where it is not 0."""
    return f"sum by (target{', ' + by if by else ''}) (rate({counter}{{{TARGETS}}}[5m])) > 0"


def _firing(severity: str) -> str:
    """Alerts of `severity` firing, by name, or one series named 'no <severity>' at 0."""
    return (
        f'count by (alertname) (ALERTS{{alertstate="firing",severity="{severity}"}})'
        f' or on() label_replace(vector(0), "alertname", "no {severity}", "", "")'
    )


def overview() -> Row:
    return Row(
        "Overview",
        [
            Panel(
                "Alerts firing",
                [
                    Query('count(ALERTS{alertstate="firing",severity="page"}) or vector(0)', "paging", ANY_IS_BAD),
                    Query(
                        'count(ALERTS{alertstate="firing",severity="ticket"}) or vector(0)', "tickets", ANY_NEEDS_A_LOOK
                    ),
                ],
                kind="stat",
                decimals=0,
                width=3,
                height=5,
                description="Alert rules firing now, by severity; docs/operations.md says what to do for each.",
            ),
            Panel(
                "Which alerts fire",
                [
                    Query(_firing("page"), "{{alertname}}", ANY_IS_BAD),
                    Query(_firing("ticket"), "{{alertname}}", ANY_NEEDS_A_LOOK),
                ],
                kind="stat",
                decimals=0,
                width=7,
                height=5,
                description="Each alert firing, red when it pages, orange for a ticket, and for how many targets, "
                "queues or processes; 'no page' and 'no ticket' when all is well.",
            ),
            Panel(
                "Hub processes",
                [
                    Query('count(up{job="hub"} == 1) or vector(0)', "up", NONE_IS_BAD),
                    Query('count(up{job="hub"} == 0) or vector(0)', "down", ANY_IS_BAD),
                ],
                kind="stat",
                decimals=0,
                width=4,
                height=5,
                description="Gateway and worker processes answering scrapes; one down for 2 min pages "
                "(HubProcessDown).",
            ),
            Panel(
                "Broker connections down",
                [
                    ("count(hub_broker_connected == 0) or vector(0)", "publishers"),
                    ('sum(hub_consumers{state="disconnected"}) or vector(0)', "consumers"),
                ],
                kind="stat",
                steps=ANY_IS_BAD,
                decimals=0,
                width=4,
                height=5,
                description="Processes whose publisher, and consumer loops that, lost RabbitMQ; the gateway then "
                "answers 'retry later' (HubBrokerDisconnected).",
            ),
            Panel(
                "Store up",
                [("min(hub_store_up)", "database")],
                kind="stat",
                steps=NONE_IS_BAD,
                mappings=((1, "readable", GREEN), (0, "unreadable", RED)),
                no_value="no gateway",
                width=3,
                height=5,
                description="Whether every gateway could read the hub's database at its last scrape; when it "
                "could not, the store's tiles below are empty rather than zero.",
            ),
            Panel(
                "Versions running",
                [("count by (version) (hub_build_info)", "{{version}}")],
                kind="stat",
                steps=PLAIN,
                decimals=0,
                width=3,
                height=5,
                description="Processes per version; two tiles mean a rollout is half done.",
            ),
            Panel(
                "Circuit",
                [(f"max by (target) (hub_target_circuit_state{{{TARGETS}}})", "{{target}}")],
                kind="stat",
                steps=((None, GREEN), (1, ORANGE), (2, RED)),
                mappings=CIRCUIT,
                width=5,
                height=5,
                description="Open: the hub stopped calling the target and messages wait in RabbitMQ; open for "
                "5 min pages (HubTargetCircuitOpen). Half-open: a probe is on its way.",
            ),
            Panel(
                "Calls failing",
                [(_failing_share("10m"), "{{target}}")],
                unit="percentunit",
                kind="stat",
                steps=((None, GREEN), (0.05, ORANGE), (1, RED)),
                decimals=0,
                width=5,
                height=5,
                description="Share of the calls to each target in the last 10 min that failed because it was "
                "unreachable or too slow; red when none succeeded, what HubTargetFailing pages on after 5 min. "
                "Records the target refused one by one are not failed calls.",
            ),
            Panel(
                "Failed in store",
                [
                    (
                        f"sum by (target) (max by (target, error_class) (hub_failed_messages{{{TARGETS}}}))",
                        "{{target}}",
                    )
                ],
                kind="stat",
                steps=((None, GREEN), (1, ORANGE), (50, RED)),
                decimals=0,
                width=5,
                height=5,
                description="Messages waiting for an operator per target (`hub failed list --target …` groups them "
                "by reason); red from 50, as 50 more than an hour ago raises HubFailedStoreGrowing.",
            ),
            Panel(
                "Failed for good, last 15 min",
                [
                    (
                        f"sum by (target) (increase(hub_messages_failed_total{{{TARGETS}}}[15m]))",
                        "{{target}}",
                    )
                ],
                kind="stat",
                steps=((None, GREEN), (1, ORANGE), (21, RED)),
                decimals=0,
                width=5,
                height=5,
                description="Records that failed for good per target; red over 20, as over 20 of one flow and "
                "reason in 15 min raises HubFailuresRising.",
            ),
            Panel(
                "Oldest undelivered",
                [
                    (
                        f"max by (target) (hub_oldest_undelivered_message_age_seconds{{{TARGETS}}})",
                        "{{target}}",
                    )
                ],
                unit="s",
                kind="stat",
                steps=((None, GREEN), (600, ORANGE), (3600, RED)),
                decimals=0,
                width=4,
                height=5,
                description="Age of the oldest accepted record neither delivered nor failed, per target; 0 when "
                "none waits. Over an hour pages (HubOldestMessageTooOld).",
            ),
            Panel(
                "Records per second, every flow",
                [
                    ("sum(rate(hub_messages_received_total[5m]))", "accepted"),
                    ("sum(rate(hub_messages_delivered_total[5m]))", "delivered"),
                    ("sum by (error_class) (rate(hub_messages_failed_total[5m])) > 0", "failed: {{error_class}}"),
                ],
                unit="ops",
                description="Healthy: accepted and delivered lie on top of each other and no failed line shows.",
            ),
            Panel(
                "Calls to targets by outcome",
                [
                    (
                        f"sum by (target, outcome) (rate(hub_target_call_duration_seconds_count{{{TARGETS}}}[5m])) > 0",
                        "{{target}} {{outcome}}",
                    ),
                    (f"sum(rate(hub_target_call_duration_seconds_count{{{TARGETS}}}[5m]))", "every call"),
                ],
                unit="reqps",
                description="Every call the workers made to a target, delivery batches and queries, by outcome; "
                "targets nobody called are left out.",
            ),
            Panel(
                "Target response time",
                _percentiles(f"hub_target_call_duration_seconds_bucket{{{TARGETS}}}", "target", "{{target}}"),
                unit="s",
                description="The target's own answer time per call; compare with the delivery latency to tell a "
                "slow target from a hub that falls behind.",
            ),
            Panel(
                "Circuit history",
                [(f"max by (target) (hub_target_circuit_state{{{TARGETS}}})", "{{target}}")],
                kind="state-timeline",
                steps=((None, GREEN), (1, ORANGE), (2, RED)),
                mappings=CIRCUIT,
                description="When each target's circuit opened and closed again.",
            ),
            Panel(
                "Failed-message store by target and reason",
                [
                    (
                        f"max by (target, error_class) (hub_failed_messages{{{TARGETS}}}) > 0",
                        "{{target}} {{error_class}}",
                    ),
                    (
                        f"sum(max by (target, error_class) (hub_failed_messages{{{TARGETS}}}))",
                        "every target",
                    ),
                ],
                decimals=0,
                description="What waits for an operator, by reason: fix the data or the target, then replay or "
                "discard the group.",
            ),
            Panel(
                "Retries, replays and duplicates per second",
                [
                    (f"sum(rate(hub_retries_scheduled_total{{{TARGETS}}}[5m]))", "retries scheduled, every target"),
                    (_per_target("hub_retries_scheduled_total"), "retry scheduled: {{target}}"),
                    (_per_target("hub_retry_attempts_total", "outcome"), "sent again: {{target}} {{outcome}}"),
                    (_per_target("hub_replays_total"), "replayed: {{target}}"),
                    (_per_target("hub_deduplicated_total"), "already delivered: {{target}}"),
                    (_per_target("hub_target_duplicates_total"), "target had it: {{target}}"),
                    (_per_target("hub_delivered_without_row_total"), "delivered without a row: {{target}}"),
                ],
                unit="ops",
                description="Only what happened shows, per target; 'sent again' is by the outcome of that call.",
            ),
        ],
        collapsed=False,
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
                steps=((None, GREEN), (60, RED)),
                description="p99 over 60 s for 15 min raises HubDeliveryLatencyHigh.",
            ),
            Panel(
                "Last hour",
                [
                    Query(f"sum(increase(hub_messages_received_total{{{match}}}[1h]))", "accepted", PLAIN),
                    Query(f"sum(increase(hub_messages_delivered_total{{{match}}}[1h]))", "delivered", PLAIN),
                    Query(f"sum(increase(hub_messages_failed_total{{{match}}}[1h]))", "failed", ANY_NEEDS_A_LOOK),
                ],
                kind="stat",
                decimals=0,
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
                steps=((None, GREEN), (2, RED)),
                description="p99 over 2 s for 10 min raises HubQueryLatencyHigh: social workers wait.",
            ),
            Panel(
                "Deadlines passed, last 10 min",
                [
                    (
                        f'sum(increase(hub_query_duration_seconds_count{{{match},outcome="deadline_exceeded"}}[10m]))',
                        "caller got 'retry later'",
                    ),
                    (
                        f'sum(increase(hub_query_expired_total{{target=~"{targets}"}}[10m]))',
                        "expired before a worker took it",
                    ),
                ],
                steps=((None, GREEN), (5, RED)),
                decimals=0,
                description="More than 5 to a target in 10 min pages (HubQueriesTimingOut).",
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
        "Broker (vhost $vhost, queues $prefix.*)",
        [
            Panel(
                "Ready messages by queue",
                [(f"sum by (queue) (rabbitmq_detailed_queue_messages_ready{{{QUEUES}}})", "{{queue}}")],
                steps=((None, GREEN), (1000, RED)),
                decimals=0,
                description="`<prefix>.deliver.<target>` is work waiting for a target, `<prefix>.retry.<delay>` "
                "what waits for a retry, `<prefix>.dead` poison on its way to the store. A delivery queue over "
                "1,000 that keeps growing for 10 min raises HubQueueGrowing.",
            ),
            Panel(
                "Unacknowledged messages by queue",
                [(f"sum by (queue) (rabbitmq_detailed_queue_messages_unacked{{{QUEUES}}})", "{{queue}}")],
                decimals=0,
            ),
            Panel(
                "Consumers on delivery and query queues",
                [(f"sum by (queue) (rabbitmq_detailed_queue_consumers{{{WORK_QUEUES}}})", "{{queue}}")],
                steps=NONE_IS_BAD,
                decimals=0,
                description="A queue with messages and no consumer for 10 min pages (HubQueueWithoutConsumers).",
            ),
            Panel(
                f"Published, confirmed, delivered, acknowledged per second {WHOLE_BROKER}",
                [
                    ("sum(rate(rabbitmq_global_messages_received_total[5m]))", "published"),
                    ("sum(rate(rabbitmq_global_messages_confirmed_total[5m]))", "confirmed"),
                    ("sum(rate(rabbitmq_global_messages_delivered_total[5m]))", "delivered"),
                    ("sum(rate(rabbitmq_global_messages_acknowledged_total[5m]))", "acknowledged"),
                ],
                unit="ops",
                description="RabbitMQ counts these per node, over every virtual host and application.",
            ),
            Panel(
                f"Unroutable and dead-lettered per second {WHOLE_BROKER}",
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
                description="RabbitMQ counts these per node, over every virtual host and application.",
            ),
            Panel(
                f"Nodes and alarms {WHOLE_BROKER}",
                [
                    Query('count(up{job="rabbitmq"} == 1) or vector(0)', "nodes up", NONE_IS_BAD),
                    Query("sum(rabbitmq_alarms_memory_used_watermark)", "memory alarms", ANY_IS_BAD),
                    Query("sum(rabbitmq_alarms_free_disk_space_watermark)", "disk alarms", ANY_IS_BAD),
                ],
                kind="stat",
                decimals=0,
                description="An alarm blocks publishing on every node (RabbitmqResourceAlarm).",
            ),
        ],
    )


def rows(router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> Iterator[Row]:
    yield overview()
    for flow in flows(router, access):
        yield query_flow(flow, systems) if flow.kind == "query" else record_flow(flow, systems)
    yield gateway()
    yield broker()


def _thresholds(steps: Steps | None) -> dict[str, object]:
    return {
        "mode": "absolute",
        "steps": [{"color": colour, "value": value} for value, colour in (steps or ((None, GREEN),))],
    }


def _mappings(mappings: Mappings) -> list[dict[str, object]]:
    if not mappings:
        return []
    options = {
        str(value): {"text": text, "color": colour, "index": n} for n, (value, text, colour) in enumerate(mappings)
    }
    return [{"type": "value", "options": options}]


def _field_config(panel: Panel, queries: Sequence[Query]) -> dict[str, object]:
    defaults: dict[str, object] = {
        "unit": panel.unit,
        "thresholds": _thresholds(panel.steps),
        "mappings": _mappings(panel.mappings),
    }
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "thresholdsStyle": {"mode": "dashed" if panel.steps else "off"},
        }
    else:
        defaults["color"] = {"mode": "thresholds"}
    if panel.kind == "state-timeline":
        defaults["custom"] = {"fillOpacity": 80, "lineWidth": 0}
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.no_value:
        defaults["noValue"] = panel.no_value
    overrides = []
    for n, query in enumerate(queries):
        properties: list[dict[str, object]] = []
        if query.steps is not None:
            properties.append({"id": "thresholds", "value": _thresholds(query.steps)})
        if query.mappings is not None:
            properties.append({"id": "mappings", "value": _mappings(query.mappings)})
        if properties:
            overrides.append({"matcher": {"id": "byFrameRefID", "options": _ref(n)}, "properties": properties})
    return {"defaults": defaults, "overrides": overrides}


def _options(panel: Panel) -> dict[str, object]:
    if panel.kind == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "auto",
            "orientation": "auto",
        }
    legend = {"showLegend": True, "displayMode": "list", "placement": "bottom"}
    if panel.kind == "state-timeline":
        return {"mergeValues": True, "showValue": "auto", "alignValue": "center", "rowHeight": 0.8, "legend": legend}
    return {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}


def _ref(n: int) -> str:
    return chr(ord("A") + n)


def _panel(panel: Panel, ident: int, x: int, y: int) -> dict[str, object]:
    queries = [Query(*q) for q in panel.queries]
    document: dict[str, object] = {
        "id": ident,
        "title": panel.title,
        "type": panel.kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "targets": [
            {
                "refId": _ref(n),
                "datasource": DATASOURCE,
                "editorMode": "code",
                "expr": query.expr,
                "legendFormat": query.legend,
                # a stat shows what holds now: a series gone since (an alert resolved) is no tile
                "instant": panel.kind == "stat",
                "range": panel.kind != "stat",
            }
            for n, query in enumerate(queries)
        ],
        "fieldConfig": _field_config(panel, queries),
        "options": _options(panel),
    }
    if panel.description:
        document["description"] = panel.description
    return document


def _variable(name: str, label: str, query: str, current: str, **extra: object) -> dict[str, object]:
    """A Prometheus query variable, refreshed when the time range changes; `current` its default."""
    chosen: dict[str, object] = {"selected": False, "text": current, "value": current}
    if current == "All":
        chosen = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "current": chosen,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "hide": 0,
        "includeAll": False,
        "multi": False,
        **extra,
    }


def variables() -> list[dict[str, object]]:
    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {"selected": False, "text": f"${{{INPUT}}}", "value": f"${{{INPUT}}}"},
            "options": [],
            "refresh": 1,
            "regex": "",
            "hide": 0,
            "includeAll": False,
            "multi": False,
        },
        _variable(
            "target",
            "Target",
            "label_values(hub_target_circuit_state, target)",
            "All",
            includeAll=True,
            multi=True,
            allValue=".*",
        ),
        _variable("vhost", "RabbitMQ vhost", "label_values(rabbitmq_detailed_queue_messages_ready, vhost)", "/"),
        _variable(
            "prefix",
            "Queue prefix (HUB_BROKER_PREFIX)",
            'label_values(rabbitmq_detailed_queue_messages_ready{vhost="$vhost"}, queue)',
            Settings.model_fields["broker_prefix"].default,
            regex="/^(.+)\\.(?:deliver|query|retry|dead|reply)(?:\\..+)?$/",
        ),
    ]


def _laid_out(panels: Sequence[Panel], y: int, first_id: int) -> tuple[list[dict[str, object]], int]:
    """Panels left to right, a new line when one does not fit; the panels and the y below them."""
    laid, x, line = [], 0, 0
    for panel in panels:
        if x + panel.width > GRID:
            x, y, line = 0, y + line, 0
        laid.append(_panel(panel, first_id + len(laid), x, y))
        x, line = x + panel.width, max(line, panel.height)
    return laid, y + line


def build(router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> dict[str, object]:
    panels: list[dict[str, object]] = []
    y, ident = 0, 1
    for row in rows(router, access, systems):
        laid, below = _laid_out(row.panels, y + 1, ident + 1)
        panels.append(
            {
                "id": ident,
                "type": "row",
                "title": row.title,
                "collapsed": row.collapsed,
                "gridPos": {"x": 0, "y": y, "w": GRID, "h": 1},
                "panels": laid if row.collapsed else [],
            }
        )
        if not row.collapsed:
            panels.extend(laid)
        y, ident = (y + 1 if row.collapsed else below), ident + 1 + len(laid)
    return {
        "__inputs": [
            {
                "name": INPUT,
                "label": "Prometheus",
                "description": "The Prometheus that scrapes the hub's processes and RabbitMQ",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "state-timeline", "name": "State timeline", "version": ""},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        ],
        "uid": "welfare-hub",
        "title": "Welfare data-exchange hub",
        "description": "Generated by `hub dashboard` from config/routes.toml: an overview, then a row per flow.",
        "tags": ["hub"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables()},
        "annotations": {"list": []},
        "panels": panels,
    }


def render(router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> bytes:
    return (json.dumps(build(router, access, systems), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def every_panel(document: Mapping[str, object]) -> Iterator[dict[str, object]]:
    """Every panel but the rows, those inside collapsed rows included."""
    for panel in document["panels"]:  # type: ignore[attr-defined]
        if panel["type"] == "row":
            yield from panel["panels"]
        else:
            yield panel


def queries(document: Mapping[str, object]) -> list[str]:
    """Every PromQL expression of a dashboard document's panels, with its variables as written."""
    return [t["expr"] for p in every_panel(document) for t in p.get("targets", [])]  # type: ignore[attr-defined]


def interpolate(expr: str, values: Mapping[str, str]) -> str:
    """An expression as Grafana sends it once each `$name` or `${name}` is replaced by its value."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], expr)
