"""SPOLIS (VSPMIS): the Ministry of Welfare's social policy monitoring system, the central target.

Receives municipal data loads (F1) through its data load service, `IesniegtIerakstus`.
"""

from adapters.spolis.client import SpolisTarget
from adapters.spolis.simulator import SIMULATOR
from hub.systems import SystemAdapter

SYSTEM = SystemAdapter(
    name="spolis",
    title="SPOLIS (Valsts sociālās politikas monitoringa informācijas sistēma, LM)",
    xsd="spolis-v1.xsd",
    target=SpolisTarget,
    default_endpoint="http://127.0.0.1:8091/soap/spolis",
    simulator=SIMULATOR,
)
