"""Which target gets which canonical type from which source: configuration, checked at start."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.canonical import RECORD_TYPES
from hub.errors import Unroutable
from hub.systems import SystemAdapter


class RoutingConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Router:
    routes: Mapping[tuple[str, str], str]

    @classmethod
    def load(cls, path: Path, systems: Mapping[str, SystemAdapter]) -> Router:
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RoutingConfigError(f"cannot read routes from {path}: {exc}") from exc
        routes: dict[tuple[str, str], str] = {}
        for number, route in enumerate(config.get("routes", []), start=1):
            where = f"{path.name}: route {number}"
            target = route.get("target")
            if target not in systems or systems[target].target is None:
                raise RoutingConfigError(f"{where}: target {target!r} is not a system the hub can deliver to")
            for source in route.get("sources", []):
                if source not in systems or not systems[source].operations:
                    raise RoutingConfigError(f"{where}: source {source!r} is not a system that submits to the hub")
                for type_ in route.get("types", []):
                    if type_ not in RECORD_TYPES:
                        raise RoutingConfigError(f"{where}: unknown message type {type_!r}")
                    if (source, type_) in routes:
                        raise RoutingConfigError(f"{where}: {source} -> {type_} is routed twice")
                    routes[(source, type_)] = target
        if not routes:
            raise RoutingConfigError(f"{path}: no routes")
        return cls(routes)

    def target_for(self, source: str, type_: str) -> str:
        try:
            return self.routes[(source, type_)]
        except KeyError:
            raise Unroutable(f"no route for {type_} from {source}") from None

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.routes.values())))
