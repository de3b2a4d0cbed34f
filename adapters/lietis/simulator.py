"""LIETIS as a client: Daugavpils social affairs administration submitting data loads."""

from adapters.lietis.dialect import from_canonical
from hub.canonical import Municipality
from hub.simulation.municipal import MunicipalSimulator

SIMULATOR = MunicipalSimulator(
    system="lietis",
    municipalities=(Municipality(atvk="0002000", name="Daugavpils valstspilsētas pašvaldība"),),
    build=from_canonical,
    record_prefix="LIETIS",
    decision_prefix="DSLP",
    users=("dslp.inspektors.07", "dslp.inspektors.21", "dslp.soc.darbiniece.33"),
)
