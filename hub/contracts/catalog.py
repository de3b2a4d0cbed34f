"""Every WSDL the project publishes, built from the adapters and the access table."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from lxml import etree

from hub.contracts.wsdl import RECEIPT, render_wsdl
from hub.rules.access import AccessTable
from hub.soap import HUB_NS
from hub.systems import SystemAdapter, WsdlOperation

STATUS = WsdlOperation(
    "GetStatus",
    f"{{{HUB_NS}}}GetStatus",
    f"{{{HUB_NS}}}GetStatusResponse",
    "What became of a receipt (all its records) or of one record's message id.",
)


@cache
def schema_locations(schemas_dir: Path) -> dict[str, str]:
    """Target namespace -> path under schemas/ of every XSD there."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    locations = {}
    for path in sorted(schemas_dir.glob("*/*.xsd")):
        namespace = etree.parse(str(path), parser).getroot().get("targetNamespace")
        locations[namespace] = path.relative_to(schemas_dir).as_posix()
    return locations


def hub_operations(
    system: SystemAdapter, systems: Mapping[str, SystemAdapter], access: AccessTable
) -> list[WsdlOperation]:
    """What `system` may call at the hub: its own operations, others' services it is granted, GetStatus."""
    operations = [
        WsdlOperation(op.name, op.element, RECEIPT, "Submit records; answered with a receipt.")
        for op in system.operations
    ]
    for owner in systems.values():
        for service in owner.services:
            if any(access.allows(system.name, t) for t in service.types):
                output = service.answer_element if service.kind == "query" else RECEIPT
                assert output is not None
                what = f"asks {owner.name} about one person" if service.kind == "query" else f"submits to {owner.name}"
                operations.append(WsdlOperation(service.name, service.element, output, f"{service.name}: {what}."))
    if system.operations or any(op.output == RECEIPT for op in operations):
        operations.append(STATUS)
    return operations


def wsdls(systems: Mapping[str, SystemAdapter], access: AccessTable, schemas_dir: Path) -> dict[str, bytes]:
    """Path under schemas/ -> WSDL document, for every system that calls the hub or offers a service."""
    locations = schema_locations(schemas_dir)
    documents: dict[str, bytes] = {}
    for system in systems.values():
        if system.calls_hub:
            documents[system.hub_wsdl] = render_wsdl(
                name=f"{system.name.capitalize()}HubService",
                namespace=f"urn:lv:welfare-hub:{system.name}:v1",
                operations=hub_operations(system, systems, access),
                schemas=locations,
                location=system.hub_wsdl,
                address=f"http://localhost:8080/soap/{system.name}",
                documentation=(
                    f"The hub's SOAP 1.1 service for {system.name}; every message carries vh:MessageHeader and a "
                    "WS-Security signature over Body, MessageHeader and Timestamp (the hub's SECURITY.md)."
                ),
            )
        if system.own_service is not None:
            own = system.own_service
            documents[system.service_wsdl] = render_wsdl(
                name=own.name,
                namespace=own.namespace,
                operations=own.operations,
                schemas=locations,
                location=system.service_wsdl,
                address=system.default_endpoint or "http://localhost/",
                documentation=own.documentation,
            )
    return documents
