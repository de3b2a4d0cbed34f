"""Routes as configuration: which target gets each canonical type, in which flow, and how the route
retries; circuit breaker settings per target. Checked when the hub starts. Who may send a type at
all is the access table's business (`hub.rules.access`), not the route's."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from hub.canonical import QUERY_TYPES, RECORD_TYPES
from hub.errors import ConfigurationError, Unroutable
from hub.rules.policies import BreakerSettings, RetryPolicy
from hub.systems import SystemAdapter


class RoutingConfigError(ConfigurationError):
    pass


FLOW_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
ROUTE_KEYS = {"flow", "types", "target", "target_by_municipality", "retry_policy", "deadline_seconds"}


@dataclass(frozen=True)
class Route:
    flow: str  # the flow it belongs to (F1...), a metric label
    target: str  # empty when the target depends on the record's municipality
    policy: RetryPolicy
    kind: str = "record"  # or "query": request-reply, the caller waits up to `deadline_seconds`
    deadline_seconds: float = 10.0
    by_municipality: Mapping[str, str] = field(default_factory=dict)  # ATVK code -> target

    @property
    def possible_targets(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.by_municipality.values()))) if self.by_municipality else (self.target,)


@dataclass(frozen=True)
class Router:
    routes: Mapping[str, Route]  # canonical type -> its route
    breakers: Mapping[str, BreakerSettings]

    @classmethod
    def load(cls, path: Path, systems: Mapping[str, SystemAdapter]) -> Router:
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RoutingConfigError(f"cannot read routes from {path}: {exc}") from exc
        try:
            policies = {
                name: RetryPolicy(name=name, **values) for name, values in config.get("retry_policies", {}).items()
            }
            policies.setdefault("default", RetryPolicy())
            breakers = {name: BreakerSettings(**values) for name, values in config.get("breakers", {}).items()}
        except ValidationError as exc:
            raise RoutingConfigError(f"{path.name}: {exc}") from exc
        routes: dict[str, Route] = {}
        for number, route in enumerate(config.get("routes", []), start=1):
            where = f"{path.name}: route {number}"
            unknown_keys = set(route) - ROUTE_KEYS
            if unknown_keys:
                raise RoutingConfigError(
                    f"{where}: unknown keys {sorted(unknown_keys)}; a route has {sorted(ROUTE_KEYS)} "
                    "(who may send a type is config/access.toml)"
                )
            flow = route.get("flow")
            if not isinstance(flow, str) or not FLOW_NAME.match(flow):
                raise RoutingConfigError(f'{where}: give the route\'s flow, a short name such as "F1"')
            by_municipality = dict(route.get("target_by_municipality", {}))
            target = route.get("target", "")
            if bool(target) == bool(by_municipality):
                raise RoutingConfigError(f"{where}: give either a target or target_by_municipality")
            policy_name = route.get("retry_policy", "default")
            if policy_name not in policies:
                raise RoutingConfigError(f"{where}: no retry policy {policy_name!r}")
            deadline = float(route.get("deadline_seconds", 10.0))
            for type_ in route.get("types", []):
                if type_ in QUERY_TYPES:
                    kind = "query"
                elif type_ in RECORD_TYPES:
                    kind = "record"
                else:
                    raise RoutingConfigError(f"{where}: unknown message type {type_!r}")
                if type_ in routes:
                    raise RoutingConfigError(f"{where}: {type_} is routed twice")
                for name in by_municipality.values() or (target,):
                    role = "query_target" if kind == "query" else "delivery_target"
                    if name not in systems or getattr(systems[name], role) is None:
                        does = "ask" if kind == "query" else "deliver to"
                        raise RoutingConfigError(f"{where}: target {name!r} is not a system the hub can {does}")
                routes[type_] = Route(flow, target, policies[policy_name], kind, deadline, by_municipality)
        if not routes:
            raise RoutingConfigError(f"{path}: no routes")
        for type_, route in routes.items():
            system = systems[route.possible_targets[0]]
            if route.kind == "query" and not any(s.kind == "query" for s in system.services):
                raise RoutingConfigError(f"{path.name}: {route.target} answers no queries, yet {type_} goes there")
        unknown = set(breakers) - {t for r in routes.values() for t in r.possible_targets}
        if unknown:
            raise RoutingConfigError(f"{path.name}: breakers for targets without routes: {sorted(unknown)}")
        return cls(routes, breakers)

    def route(self, type_: str) -> Route:
        try:
            return self.routes[type_]
        except KeyError:
            raise Unroutable(f"no route for {type_}") from None

    def target_for(self, record: object) -> str:
        """The target of one record: the route's, or the one serving the record's municipality."""
        route = self.route(record.TYPE)  # type: ignore[attr-defined]
        if not route.by_municipality:
            return route.target
        atvk = record.municipality.atvk  # type: ignore[attr-defined]
        try:
            return route.by_municipality[atvk]
        except KeyError:
            raise Unroutable(f"no municipal system takes {record.TYPE} for municipality {atvk}") from None  # type: ignore[attr-defined]

    def breaker_for(self, target: str) -> BreakerSettings:
        return self.breakers.get(target, BreakerSettings())

    def delays_for(self, target: str) -> tuple[float, ...]:
        """Every retry delay a record route to `target` may use: one delay queue each."""
        delays = {
            d
            for r in self.routes.values()
            if target in r.possible_targets and r.kind == "record"
            for d in r.policy.delays_seconds
        }
        return tuple(sorted(delays))

    @property
    def targets(self) -> tuple[str, ...]:
        """Targets records are delivered to."""
        return tuple(sorted({t for r in self.routes.values() if r.kind == "record" for t in r.possible_targets}))

    @property
    def query_targets(self) -> tuple[str, ...]:
        """Targets that answer per-person queries."""
        return tuple(sorted({r.target for r in self.routes.values() if r.kind == "query"}))
