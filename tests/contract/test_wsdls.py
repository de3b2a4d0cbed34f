"""Every WSDL the project publishes loads in zeep, a third-party SOAP client, with exactly the
operations the hub serves or calls, and the committed files are what the code generates."""

from __future__ import annotations

import pytest
import zeep

from hub.contracts.catalog import hub_operations, wsdls
from hub.rules.access import AccessTable
from hub.rules.routing import Router
from hub.settings import PROJECT_ROOT, Settings
from hub.systems import discover

SCHEMAS = PROJECT_ROOT / "schemas"
SYSTEMS = discover()
ROUTER = Router.load(Settings().routes_file, SYSTEMS)
ACCESS = AccessTable.load(Settings().access_file, SYSTEMS, ROUTER)
DOCUMENTS = wsdls(SYSTEMS, ACCESS, SCHEMAS)


def test_the_committed_wsdls_are_what_the_code_generates():
    stale = [path for path, content in DOCUMENTS.items() if (SCHEMAS / path).read_bytes() != content]
    assert not stale, f"run `hub contract wsdl`: {stale}"
    published = {p.relative_to(SCHEMAS).as_posix() for p in SCHEMAS.glob("*/*.wsdl")}
    assert published == set(DOCUMENTS), "a WSDL under schemas/ that no adapter declares"


@pytest.mark.parametrize("path", sorted(DOCUMENTS))
def test_wsdl_loads_in_zeep_with_its_operations(path: str):
    client = zeep.Client(str(SCHEMAS / path))
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    system = SYSTEMS[path.split("/")[0]]
    if path == system.hub_wsdl:
        expected = {op.name for op in hub_operations(system, SYSTEMS, ACCESS)}
    else:
        expected = {op.name for op in system.own_service.operations}
    assert set(port.binding._operations) == expected
    for operation in port.binding._operations.values():
        assert operation.input.header.signature(), f"{operation.name} must carry the VISS header"


def test_every_system_that_calls_the_hub_has_its_own_operations_in_its_wsdl():
    for system in SYSTEMS.values():
        if system.operations:
            names = {op.name for op in hub_operations(system, SYSTEMS, ACCESS)}
            assert {op.name for op in system.operations} <= names
