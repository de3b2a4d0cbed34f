"""Every labelled series a hub process can export, created at zero when it starts.

Prometheus's `increase()` and `rate()` see a series from its second sample on, so a counter born at
its first increment hides that first burst: records refused before the first scrape would show
as none failed, and an alert on the increase would never fire. The label values come from the
routes, the access table and the error classes, so the set is bounded and known at start.

`SERIES` names, for each labelled metric in `hub.metrics`, the role of the processes that count it
and the label sets to start; `UNENUMERABLE` the few whose values cannot be known in advance. A test
holds every labelled metric to be in one or the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client.metrics import MetricWrapperBase

from hub import metrics
from hub.errors import error_classes
from hub.rules.access import AccessTable
from hub.rules.routing import Router
from hub.systems import SystemAdapter

Role = Literal["gateway", "worker"]


@dataclass(frozen=True)
class LabelSpace:
    """The label values this hub's configuration makes possible."""

    records: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # flow, source, type, its targets
    queries: tuple[tuple[str, str, str, str], ...]  # flow, caller, type, target
    requests: tuple[tuple[str, str], ...]  # system, SOAP operation
    targets: tuple[str, ...]  # records are delivered to
    query_targets: tuple[str, ...]
    delays: Mapping[str, tuple[str, ...]]  # a target's retry delays, as labelled
    error_classes: tuple[str, ...]

    @classmethod
    def of(cls, router: Router, access: AccessTable, systems: Mapping[str, SystemAdapter]) -> LabelSpace:
        records, queries = [], []
        for type_, route in sorted(router.routes.items()):
            for source in sorted(access.senders(type_)):
                if route.kind == "record":
                    records.append((route.flow, source, type_, route.possible_targets))
                else:
                    queries.append((route.flow, source, type_, route.target))
        return cls(
            records=tuple(records),
            queries=tuple(queries),
            requests=tuple(_requests(access, systems)),
            targets=router.targets,
            query_targets=router.query_targets,
            delays={t: tuple(f"{d:g}s" for d in router.delays_for(t)) for t in router.targets},
            error_classes=error_classes(),
        )

    @property
    def outcomes(self) -> tuple[str, ...]:
        return ("ok", *self.error_classes)

    @property
    def every_target(self) -> tuple[str, ...]:
        return tuple(sorted({*self.targets, *self.query_targets}))


def _requests(access: AccessTable, systems: Mapping[str, SystemAdapter]) -> Iterable[tuple[str, str]]:
    """Each caller's operations: its own loads, the services it was granted, and the status question."""
    services = [service for system in systems.values() for service in system.services]
    for name, system in sorted(systems.items()):
        if not system.calls_hub:
            continue
        granted = access.grants.get(name, frozenset())
        operations = {op.name for op in system.operations} | {"GetStatus"}
        operations |= {s.name for s in services if granted & set(s.types)}
        yield from ((name, operation) for operation in sorted(operations))


CALL_OUTCOMES = ("ok", "target_rejected", "target_unavailable", "target_timeout")

Starts = Callable[[LabelSpace], Iterable[tuple[str, ...]]]

SERIES: dict[MetricWrapperBase, tuple[frozenset[Role], Starts]] = {
    metrics.messages_received: (frozenset({"gateway"}), lambda s: ((f, src, t) for f, src, t, _ in s.records)),
    metrics.messages_delivered: (
        frozenset({"worker"}),
        lambda s: ((f, src, target, t) for f, src, t, targets in s.records for target in targets),
    ),
    # the gateway's housekeeping stores dead letters; the workers, what fails for good
    metrics.messages_failed: (
        frozenset({"gateway", "worker"}),
        lambda s: (
            (f, src, target, t, e) for f, src, t, targets in s.records for target in targets for e in s.error_classes
        ),
    ),
    metrics.failed_stored: (
        frozenset({"gateway", "worker"}),
        lambda s: ((target, e) for target in s.targets for e in s.error_classes),
    ),
    metrics.delivery_latency: (
        frozenset({"worker"}),
        lambda s: {(f, target, t) for f, _, t, targets in s.records for target in targets},
    ),
    metrics.target_duplicates: (frozenset({"worker"}), lambda s: ((t,) for t in s.targets)),
    metrics.deduplicated: (frozenset({"worker"}), lambda s: ((t,) for t in s.targets)),
    metrics.delivered_without_row: (frozenset({"worker"}), lambda s: ((t,) for t in s.targets)),
    metrics.delivery_attempts: (
        frozenset({"worker"}),
        lambda s: ((t, outcome) for t in s.targets for outcome in s.outcomes),
    ),
    metrics.retry_attempts: (
        frozenset({"worker"}),
        lambda s: ((t, outcome) for t in s.targets for outcome in s.outcomes),
    ),
    # a histogram's series are many: the outcomes the alerts read, not every error class
    metrics.target_call_duration: (
        frozenset({"worker"}),
        lambda s: ((t, outcome) for t in s.every_target for outcome in CALL_OUTCOMES),
    ),
    metrics.circuit_state: (frozenset({"worker"}), lambda s: ((t,) for t in s.every_target)),
    metrics.circuit_opened: (frozenset({"worker"}), lambda s: ((t,) for t in s.every_target)),
    metrics.retries_scheduled: (
        frozenset({"worker"}),
        lambda s: ((t, delay) for t in s.targets for delay in s.delays[t]),
    ),
    metrics.query_expired: (frozenset({"worker"}), lambda s: ((t,) for t in s.query_targets)),
    metrics.replays: (frozenset({"gateway"}), lambda s: ((t,) for t in s.targets)),
    metrics.gateway_requests: (
        frozenset({"gateway"}),
        lambda s: ((system, op, outcome) for system, op in s.requests for outcome in s.outcomes),
    ),
    metrics.gateway_request_duration: (frozenset({"gateway"}), lambda s: ((*r, "ok") for r in s.requests)),
    metrics.query_duration: (
        frozenset({"gateway"}),
        lambda s: ((f, src, target, t, "answered") for f, src, t, target in s.queries),
    ),
}

UNENUMERABLE: dict[MetricWrapperBase, str] = {
    metrics.validation_failures: "its rules are the schemas' facets as well as the hub's own; alerts count "
    "refusals from hub_gateway_requests_total{outcome}, which starts at zero",
}


def start_at_zero(space: LabelSpace, roles: Iterable[Role]) -> None:
    """Create the series the given roles count; a series already there keeps its value."""
    running = set(roles)
    for metric, (counted_by, starts) in SERIES.items():
        if counted_by & running:
            for labels in starts(space):
                metric.labels(*labels)
