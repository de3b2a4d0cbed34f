"""VSAA: the State Social Insurance Agency.

Answers, one person and period per request, the e-services EP50 (deductions from paid pensions
and benefits), EP51 (pensions and benefits granted) and EP52 (those sent for payment), which
SOPA and LIETIS ask through the hub (flow F5).
"""

from adapters.vsaa import dialect
from adapters.vsaa.client import VsaaTarget
from hub.systems import OwnService, Service, SystemAdapter, WsdlOperation

_DOCS = {
    "EP50": "Deductions made from paid pensions, benefits or compensations, for one person and period.",
    "EP51": "Pensions, benefits or compensations granted to one person, as of a date.",
    "EP52": "Pensions, benefits or compensations sent for payment to one person, in a period.",
}

SYSTEM = SystemAdapter(
    name="vsaa",
    title="VSAA (Valsts sociālās apdrošināšanas aģentūra)",
    xsd="vsaa-v1.xsd",
    services=tuple(
        Service(
            name,
            request,
            "query",
            (query.TYPE,),
            dialect.request_to_canonical,
            answer,
            dialect.answer_to_xml,
        )
        for name, (request, answer, query) in dialect.SERVICES.items()
    ),
    query_target=VsaaTarget,
    own_service=OwnService(
        name="VsaaEPakalpojumi",
        namespace=dialect.SERVICE_NS,
        operations=tuple(
            WsdlOperation(name, request, answer, _DOCS[name]) for name, (request, answer, _) in dialect.SERVICES.items()
        ),
        documentation="VSAA e-services EP50, EP51, EP52 for municipal social services, SOAP 1.1, version 1.",
    ),
    default_endpoint="http://127.0.0.1:8092/soap/vsaa",
    simulator_module="adapters.vsaa.simulator",
)
