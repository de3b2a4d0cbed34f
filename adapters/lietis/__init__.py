"""LIETIS: Daugavpils City social affairs administration's information system.

Submits data loads for SPOLIS (flow F1) as an English-named, attribute-heavy `DataLoad`; sends
assistant service (F2), monthly reports (F8) and cooperation duties (F7) in SPOLIS's and BURVIS's
formats; asks VSAA (F5) and VDEĀVK (F4); takes NVA client profiling of Daugavpils residents (F6).
"""

from adapters.lietis import dialect
from adapters.lietis.receiver import INTAKE, INTAKE_ANSWER, PROFILE_INTAKE, SERVICE_NS
from hub.soap.batch import BatchTarget
from hub.systems import InboundOperation, OwnService, SystemAdapter, TargetSettings, WsdlOperation


def _target(settings: TargetSettings) -> BatchTarget:
    return BatchTarget(settings, PROFILE_INTAKE)


SYSTEM = SystemAdapter(
    name="lietis",
    title="LIETIS (Daugavpils pilsētas domes Sociālo lietu pārvaldes informācijas sistēma)",
    xsd="lietis-v1.xsd",
    operations=(InboundOperation("SubmitDataLoad", dialect.DATA_LOAD, dialect.to_canonical),),
    delivery_target=_target,
    own_service=OwnService(
        name="LietisNvaService",
        namespace=SERVICE_NS,
        operations=(
            WsdlOperation(
                "ReceiveProfiles",
                INTAKE,
                INTAKE_ANSWER,
                "Take NVA client profiling of residents; each answered, stored once per message id.",
            ),
        ),
        documentation="LIETIS intake of NVA client profiling (F6), SOAP 1.1, version 1.",
    ),
    default_endpoint="http://127.0.0.1:8095/soap/lietis",
    simulator_module="adapters.lietis.simulator",
)
