"""The access table: which system may send which canonical types and ask which queries.

Routes say where a type goes; the access table says who may send it at all. Keeping the two apart
lets an operator withdraw one partner's right (a certificate compromised, a contract ended) without
touching where messages go. Anything not granted is refused at the gateway with a Client Fault
(`not-authorised`), counted by outcome and logged. GetStatus needs no grant: it answers only about
the asker's own receipts.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hub.canonical import QUERY_TYPES, RECORD_TYPES
from hub.errors import ConfigurationError, Unauthorised
from hub.rules.routing import Router
from hub.settings import Settings
from hub.systems import SystemAdapter

log = logging.getLogger(__name__)

GRANT_KEYS = {"send": RECORD_TYPES, "query": QUERY_TYPES}


class AccessConfigError(ConfigurationError):
    pass


@dataclass(frozen=True)
class AccessTable:
    grants: Mapping[str, frozenset[str]]  # system -> the canonical types it may send or ask

    @classmethod
    def load(cls, path: Path, systems: Mapping[str, SystemAdapter], router: Router) -> AccessTable:
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise AccessConfigError(f"cannot read the access table {path}: {exc}") from exc
        grants: dict[str, frozenset[str]] = {}
        for system, sections in config.items():
            where = f"{path.name}: [{system}]"
            if system not in systems or not systems[system].calls_hub:
                raise AccessConfigError(f"{where}: not a system that calls the hub")
            if not isinstance(sections, dict) or set(sections) - set(GRANT_KEYS):
                raise AccessConfigError(f"{where}: give `send` (record types) and `query` (query types) lists")
            types: set[str] = set()
            for key, known in GRANT_KEYS.items():
                for type_ in sections.get(key, []):
                    if type_ not in known:
                        raise AccessConfigError(f"{where}: {type_!r} is not a {key} type; known: {sorted(known)}")
                    if type_ not in router.routes:
                        log.warning(
                            "granted but not routed: refused as unroutable", extra={"system": system, "type": type_}
                        )
                    types.add(type_)
            grants[system] = frozenset(types)
        return cls(grants)

    def allows(self, system: str, type_: str) -> bool:
        return type_ in self.grants.get(system, frozenset())

    def check(self, system: str, types: Iterable[str], field: str) -> None:
        """Raise `Unauthorised` naming the first type `system` may not send or ask."""
        for type_ in sorted(set(types)):
            if not self.allows(system, type_):
                raise Unauthorised.single(field, "not-authorised", f"{system} may not send or ask {type_}")

    def senders(self, type_: str) -> set[str]:
        return {system for system, types in self.grants.items() if type_ in types}


def load_rules(settings: Settings, systems: Mapping[str, SystemAdapter]) -> tuple[Router, AccessTable]:
    """The routes and the access table, which is checked against them."""
    router = Router.load(settings.routes_file, systems)
    return router, AccessTable.load(settings.access_file, systems, router)
