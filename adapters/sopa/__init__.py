"""SOPA: Riga City Council's unified information system, social services part.

Submits data loads for SPOLIS (flow F1) in its own Latvian-named dialect, `DatuPakete`; sends
assistant service (F2), monthly reports (F8) and cooperation duties (F7) in SPOLIS's and BURVIS's
formats; asks VSAA (F5) and VDEĀVK (F4); takes NVA client profiling of Riga residents (F6).
"""

from adapters.sopa import dialect
from adapters.sopa.receiver import INTAKE, INTAKE_ANSWER, PROFILE_INTAKE, SERVICE_NS
from hub.soap.batch import BatchTarget
from hub.systems import InboundOperation, OwnService, SystemAdapter, TargetSettings, WsdlOperation


def _target(settings: TargetSettings) -> BatchTarget:
    return BatchTarget(settings, PROFILE_INTAKE)


SYSTEM = SystemAdapter(
    name="sopa",
    title="SOPA (Rīgas valstspilsētas pašvaldības vienotā informācijas sistēma, sociālo pakalpojumu daļa)",
    xsd="sopa-v1.xsd",
    operations=(InboundOperation("IesniegtDatuPaketi", dialect.DATA_PACKAGE, dialect.to_canonical),),
    delivery_target=_target,
    own_service=OwnService(
        name="SopaNvaService",
        namespace=SERVICE_NS,
        operations=(
            WsdlOperation(
                "SanemtProfilus",
                INTAKE,
                INTAKE_ANSWER,
                "Take NVA client profiling of residents; each answered, stored once per message id.",
            ),
        ),
        documentation="SOPA intake of NVA client profiling (F6), SOAP 1.1, version 1.",
    ),
    default_endpoint="http://127.0.0.1:8094/soap/sopa",
    simulator_module="adapters.sopa.simulator",
)
