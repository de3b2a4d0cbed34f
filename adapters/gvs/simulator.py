"""GVS as a client: small municipalities' social services exporting from GVS."""

from adapters.gvs.dialect import from_canonical
from hub.canonical import Municipality
from hub.simulation.municipal import MunicipalSimulator

# ATVK 2021 codes as the classifier's structure gives them (novads codes 20-99 in positions
# 3-4); check against the Central Statistical Bureau's list before relying on them.
SIMULATOR = MunicipalSimulator(
    system="gvs",
    municipalities=(
        Municipality(atvk="0051000", name="Tukuma novada pašvaldība (Kandavas apvienības sociālais dienests)"),
    ),
    build=from_canonical,
    record_prefix="GVS",
    decision_prefix="KSD",
    users=("kandava.soc.darbiniece.02", "kandava.soc.darbinieks.05"),
)
