"""SPOLIS (VSPMIS): the Ministry of Welfare's social policy monitoring system, the central target.

Receives municipal data loads (F1), assistant service (F2), VDEĀVK's opinions (F3) and monthly
reports (F8) through its data load service, `IesniegtIerakstus`. Defines the formats in which
municipalities send assistant service and monthly reports, and asks VDEĀVK about a person (F4).
"""

from adapters.spolis import services
from adapters.spolis.client import SpolisTarget
from adapters.spolis.outbound import ANSWER, SUBMIT
from hub.canonical import AssistantService, MonthlyReport
from hub.systems import OwnService, Service, SystemAdapter, WsdlOperation

SYSTEM = SystemAdapter(
    name="spolis",
    title="SPOLIS (Valsts sociālās politikas monitoringa informācijas sistēma, LM)",
    xsd="spolis-v1.xsd",
    services=(
        Service(
            "IesniegtAsistentaPakalpojumus",
            services.ASSISTANCE,
            "submission",
            (AssistantService.TYPE,),
            services.assistance_to_canonical,
            from_canonical=services.assistance_to_xml,
        ),
        Service(
            "IesniegtMenesaParskatu",
            services.REPORT,
            "submission",
            (MonthlyReport.TYPE,),
            services.report_to_canonical,
            from_canonical=services.report_to_xml,
        ),
    ),
    caller=True,
    delivery_target=SpolisTarget,
    own_service=OwnService(
        name="SpolisIeladeService",
        namespace="urn:lv:lm:spolis:ielade:service:v1",
        operations=(
            WsdlOperation(
                "IesniegtIerakstus",
                SUBMIT,
                ANSWER,
                "Store records; each is answered on its own and stored once per ZinojumaId.",
            ),
        ),
        documentation="SPOLIS data load service, SOAP 1.1, version 1: what the hub calls to deliver records.",
    ),
    default_endpoint="http://127.0.0.1:8091/soap/spolis",
    simulator_module="adapters.spolis.simulator",
)
