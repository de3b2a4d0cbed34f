"""LIETIS as a client: Daugavpils social affairs administration submitting data loads."""

from adapters.lietis.dialect import from_canonical
from adapters.lietis.receiver import PROFILE_INTAKE
from hub.canonical import Municipality
from hub.simulation.municipal import Intake, MunicipalSimulator

SIMULATOR = MunicipalSimulator(
    system="lietis",
    municipalities=(Municipality(atvk="0002000", name="Daugavpils valstspilsētas pašvaldība"),),
    build=from_canonical,
    record_prefix="LIETIS",
    decision_prefix="DSLP",
    intake=Intake(PROFILE_INTAKE, "lietis/lietis-service-v1.wsdl", 8095),
    users=("dslp.inspektors.07", "dslp.inspektors.21", "dslp.soc.darbiniece.33"),
)
