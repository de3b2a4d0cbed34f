"""LIETIS: Daugavpils City social affairs administration's information system.

Submits data loads for SPOLIS (flow F1) as an English-named, attribute-heavy `DataLoad`.
"""

from adapters.lietis import dialect
from adapters.lietis.simulator import SIMULATOR
from hub.systems import InboundOperation, SystemAdapter

SYSTEM = SystemAdapter(
    name="lietis",
    title="LIETIS (Daugavpils pilsētas domes Sociālo lietu pārvaldes informācijas sistēma)",
    xsd="lietis-v1.xsd",
    operations=(InboundOperation("SubmitDataLoad", dialect.DATA_LOAD, dialect.to_canonical),),
    simulator=SIMULATOR,
)
