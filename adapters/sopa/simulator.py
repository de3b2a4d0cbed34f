"""SOPA as a client: Riga's social service submitting data packages."""

from adapters.sopa.dialect import from_canonical
from adapters.sopa.receiver import PROFILE_INTAKE
from hub.canonical import Municipality
from hub.simulation.municipal import Intake, MunicipalSimulator

SIMULATOR = MunicipalSimulator(
    system="sopa",
    municipalities=(Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība"),),
    build=from_canonical,
    record_prefix="SOPA",
    decision_prefix="RSD",
    intake=Intake(PROFILE_INTAKE, "sopa/sopa-service-v1.wsdl", 8094),
    users=("rsd.soc.darbinieks.014", "rsd.soc.darbinieks.102", "rsd.soc.darbinieks.233"),
)
