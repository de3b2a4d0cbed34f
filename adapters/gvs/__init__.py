"""GVS: the Ministry of Welfare's social-assistance case management system for small municipalities.

Exports data loads for SPOLIS (flow F1) as a person-centric `Eksports` with amounts in cents.
"""

from adapters.gvs import dialect
from hub.systems import InboundOperation, SystemAdapter

SYSTEM = SystemAdapter(
    name="gvs",
    title="GVS (LM sociālās palīdzības gadījumu vadības sistēma pašvaldībām)",
    xsd="gvs-v1.xsd",
    operations=(InboundOperation("IesniegtEksportu", dialect.EXPORT, dialect.to_canonical),),
    simulator_module="adapters.gvs.simulator",
)
