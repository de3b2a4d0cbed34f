"""BURVIS: the State Employment Agency's (NVA) information system.

Sends the profiling of unemployed persons and job seekers to the social service of the
municipality where each lives (flow F6, routed by municipality); takes the cooperation duties
municipal social services set and the services they provided (flow F7), in its own format.
"""

from adapters.burvis import dialect
from hub.canonical import CooperationDuties
from hub.soap.batch import BatchTarget
from hub.systems import InboundOperation, OwnService, Service, SystemAdapter, TargetSettings, WsdlOperation


def _target(settings: TargetSettings) -> BatchTarget:
    return BatchTarget(settings, dialect.IntakeDialect())


SYSTEM = SystemAdapter(
    name="burvis",
    title="BURVIS (Nodarbinātības valsts aģentūras informācijas sistēma)",
    xsd="burvis-v1.xsd",
    operations=(InboundOperation("NosutitProfilesanasRezultatus", dialect.PROFILES, dialect.profiles_to_canonical),),
    services=(
        Service(
            "IesniegtLidzdarbibasPienakumus",
            dialect.DUTIES,
            "submission",
            (CooperationDuties.TYPE,),
            dialect.duties_to_canonical,
            from_canonical=dialect.duties_to_xml,
        ),
    ),
    delivery_target=_target,
    own_service=OwnService(
        name="BurvisPienakumuService",
        namespace=dialect.SERVICE_NS,
        operations=(
            WsdlOperation(
                "SanemtPienakumus",
                dialect.INTAKE,
                dialect.INTAKE_ANSWER,
                "Take cooperation duties and services provided; each record answered, stored once per ZinojumaId.",
            ),
        ),
        documentation="BURVIS intake of municipal cooperation duties, SOAP 1.1, version 1.",
    ),
    default_endpoint="http://127.0.0.1:8096/soap/burvis",
    simulator_module="adapters.burvis.simulator",
)
