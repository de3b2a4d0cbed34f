"""What an adapter tells the engine about its system, and how the engine finds adapters.

Each folder under `adapters/` that exposes `SYSTEM` is a system; the engine looks nothing up
by name. An adapter gives its inbound operations (SOAP body element -> canonical records), what
the hub delivers to it (records) or asks it (per-person queries), its simulator, or any of these.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from lxml import etree

from hub.canonical.base import CanonicalRecord, Municipality
from hub.canonical.mapping import Parsed
from hub.canonical.queries import Answer
from hub.envelope import Envelope

if TYPE_CHECKING:  # names only: the SOAP layer and the contracts build on this module
    from hub.soap.signature import Signer


@dataclass(frozen=True, slots=True)
class InboundOperation:
    """A SOAP operation a system calls on the hub to submit records."""

    name: str
    element: str  # the request's body element, Clark notation {namespace}Name
    to_canonical: Callable[[etree._Element], list[Parsed]]
    """Maps a schema-valid body element to records, each with its source element; raises
    ValidationFailed naming every bad field."""


@dataclass(frozen=True, slots=True)
class Service:
    """An operation a system offers other systems through the hub, in its own schema.

    A `submission` carries records to the system (answered with the hub's receipt); a `query` asks
    it about one person and the caller waits for the answer (request-reply through the broker).
    """

    name: str
    element: str  # the request's body element, Clark notation
    kind: Literal["submission", "query"]
    types: tuple[str, ...]  # the canonical types it yields: routes say who may use it
    to_canonical: Callable[[etree._Element], list[Parsed]]
    answer_element: str | None = None  # queries: the answer's body element
    answer_to_xml: Callable[[Answer], etree._Element] | None = None  # queries: canonical answer -> XML
    from_canonical: Callable[[Sequence[CanonicalRecord], Municipality], etree._Element] | None = None
    """Submissions: records -> this format (what a sender's simulator sends)."""


@dataclass(frozen=True, slots=True)
class WsdlOperation:
    """One operation of a WSDL: its request and answer body elements, in Clark notation."""

    name: str
    input: str
    output: str
    documentation: str = ""


@dataclass(frozen=True, slots=True)
class OwnService:
    """The SOAP service a system itself offers, which the hub calls (its `-service-v1.wsdl`)."""

    name: str
    namespace: str
    operations: tuple[WsdlOperation, ...]
    documentation: str


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    message_id: uuid.UUID
    outcome: Literal["delivered", "duplicate", "rejected"]
    reason: str | None = None


class DeliveryTarget(Protocol):
    """A system the hub delivers records to. Raises TargetUnavailable / TargetTimeout when the call
    failed and may succeed later, TargetRejected when it was refused; otherwise each record's outcome."""

    def deliver(self, envelopes: Sequence[Envelope]) -> list[DeliveryResult]: ...

    def close(self) -> None: ...


class QueryTarget(Protocol):
    """A system the hub asks about one person; raises as a delivery target does."""

    def answer(self, envelope: Envelope) -> Answer: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TargetSettings:
    endpoint: str
    timeout_seconds: float
    schemas_dir: Path
    signer: Signer | None = None  # the hub's own: every call to the target is signed with it


class Simulator(Protocol):
    """`hub simulate <system>`: a stand-in for the real system, over real HTTP."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class SystemAdapter:
    name: str
    title: str
    xsd: str | None = None  # under schemas/<name>/: validates what the system sends or offers
    operations: tuple[InboundOperation, ...] = ()
    services: tuple[Service, ...] = ()
    caller: bool = False  # calls other systems' services through the hub (e.g. SPOLIS asking VDEĀVK)
    delivery_target: Callable[[TargetSettings], DeliveryTarget] | None = None
    query_target: Callable[[TargetSettings], QueryTarget] | None = None
    own_service: OwnService | None = None
    default_endpoint: str | None = None
    simulator_module: str | None = None
    """Where its simulator is (the module's `SIMULATOR`): loaded only by `hub simulate` and the demo,
    so the production image, which leaves the simulators out, never imports one."""
    notes: str = ""
    _by_element: dict[str, InboundOperation] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_element.update({op.element: op for op in self.operations})

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its name: a process of the gateway's pool discovers the same adapters itself."""
        return _discovered, (self.name,)

    @property
    def simulator(self) -> Simulator | None:
        if self.simulator_module is None:
            return None
        return importlib.import_module(self.simulator_module).SIMULATOR  # type: ignore[no-any-return]

    def operation_for(self, element: str) -> InboundOperation | None:
        return self._by_element.get(element)

    @property
    def calls_hub(self) -> bool:
        """Does the system call the hub: its own operations, or other systems' services?"""
        return bool(self.operations) or self.caller

    def schema_dir(self, schemas_root: Path) -> Path:
        return schemas_root / self.name

    @property
    def hub_wsdl(self) -> str:
        """Path under schemas/ of the WSDL of the hub's service for this system."""
        return f"{self.name}/{self.name}-hub-v1.wsdl"

    @property
    def service_wsdl(self) -> str:
        """Path under schemas/ of the WSDL of this system's own service."""
        return f"{self.name}/{self.name}-service-v1.wsdl"


def _discovered(name: str) -> SystemAdapter:
    return discover()[name]


@cache
def discover() -> dict[str, SystemAdapter]:
    """Every system under the `adapters` package, by name."""
    import adapters

    systems: dict[str, SystemAdapter] = {}
    for module_info in pkgutil.iter_modules(adapters.__path__):
        if not module_info.ispkg or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"adapters.{module_info.name}")
        system = getattr(module, "SYSTEM", None)
        if isinstance(system, SystemAdapter):
            systems[system.name] = system
    return systems
