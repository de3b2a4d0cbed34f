"""VDEĀVK: the State Medical Commission for the Assessment of Health Condition and Working Ability.

Pushes its opinions on the need for an assistant service to SPOLIS (flow F3) and answers
GetUniversalServiceDataIS about one person for SOPA, LIETIS and SPOLIS (flow F4).
"""

from adapters.vdeavk import dialect
from adapters.vdeavk.client import VdeavkTarget
from hub.canonical.queries import DisabilityQuery
from hub.systems import InboundOperation, OwnService, Service, SystemAdapter, WsdlOperation

SYSTEM = SystemAdapter(
    name="vdeavk",
    title="VDEĀVK (Veselības un darbspēju ekspertīzes ārstu valsts komisija)",
    xsd="vdeavk-v1.xsd",
    operations=(InboundOperation("SubmitOpinions", dialect.OPINIONS, dialect.opinions_to_canonical),),
    services=(
        Service(
            "GetUniversalServiceDataIS",
            dialect.QUERY,
            "query",
            (DisabilityQuery.TYPE,),
            dialect.query_to_canonical,
            dialect.ANSWER,
            dialect.answer_to_xml,
        ),
    ),
    query_target=VdeavkTarget,
    own_service=OwnService(
        name="VdeavkUniversalService",
        namespace=dialect.SERVICE_NS,
        operations=(
            WsdlOperation(
                "GetUniversalServiceDataIS",
                dialect.QUERY,
                dialect.ANSWER,
                "Disability group and validity, impairments and the opinion on an assistant, for one person.",
            ),
        ),
        documentation="VDEĀVK web service GetUniversalServiceDataIS, SOAP 1.1, version 1.",
    ),
    default_endpoint="http://127.0.0.1:8093/soap/vdeavk",
    simulator_module="adapters.vdeavk.simulator",
)
