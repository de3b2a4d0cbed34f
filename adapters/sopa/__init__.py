"""SOPA: Riga City Council's unified information system, social services part.

Submits data loads for SPOLIS (flow F1) in its own Latvian-named dialect, `DatuPakete`.
"""

from adapters.sopa import dialect
from adapters.sopa.simulator import SIMULATOR
from hub.systems import InboundOperation, SystemAdapter

SYSTEM = SystemAdapter(
    name="sopa",
    title="SOPA (Rīgas valstspilsētas pašvaldības vienotā informācijas sistēma, sociālo pakalpojumu daļa)",
    xsd="sopa-v1.xsd",
    operations=(InboundOperation("IesniegtDatuPaketi", dialect.DATA_PACKAGE, dialect.to_canonical),),
    simulator=SIMULATOR,
)
