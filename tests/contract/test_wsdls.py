"""Every WSDL loads in zeep, a third-party SOAP client, with the operations the hub serves."""

from __future__ import annotations

import pytest
import zeep

from hub.settings import PROJECT_ROOT
from hub.systems import discover

WSDLS = {
    "sopa": ("sopa/sopa-hub-v1.wsdl", {"IesniegtDatuPaketi", "GetStatus"}),
    "lietis": ("lietis/lietis-hub-v1.wsdl", {"SubmitDataLoad", "GetStatus"}),
    "gvs": ("gvs/gvs-hub-v1.wsdl", {"IesniegtEksportu", "GetStatus"}),
    "spolis": ("spolis/spolis-service-v1.wsdl", {"IesniegtIerakstus"}),
}


@pytest.mark.parametrize("system", WSDLS)
def test_wsdl_loads_in_zeep_with_its_operations(system: str):
    path, operations = WSDLS[system]
    client = zeep.Client(str(PROJECT_ROOT / "schemas" / path))
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    assert set(port.binding._operations) == operations
    for name in operations:
        operation = port.binding._operations[name]
        assert operation.input.header.signature(), f"{name} must carry the VISS header"


def test_every_inbound_operation_of_an_adapter_is_in_its_wsdl():
    for name, system in discover().items():
        if not system.operations:
            continue
        path, operations = WSDLS[name]
        assert system.wsdl == path.split("/")[1]
        assert {op.name for op in system.operations} | {"GetStatus"} == operations
