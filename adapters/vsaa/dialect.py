"""VSAA's e-service messages (EP50, EP51, EP52) to canonical queries and answers, and back."""

from __future__ import annotations

from lxml import etree

from hub.canonical.mapping import Parsed, RecordCollector
from hub.canonical.queries import (
    Answer,
    CanonicalQuery,
    DeductionsQuery,
    GrantedBenefitsQuery,
    PaymentsQuery,
)
from hub.xml.fields import Field, Table

NS = "urn:lv:vsaa:e-pakalpojumi:v1"
SERVICE_NS = "urn:lv:vsaa:e-pakalpojumi:service:v1"

KINDS = {
    "VECUMA_PENSIJA": "old_age_pension",
    "INVALIDITATES_PENSIJA": "disability_pension",
    "APGADNIEKA_ZAUDEJUMA_PENSIJA": "survivor_pension",
    "BEZDARBNIEKA_PABALSTS": "unemployment_benefit",
    "SLIMIBAS_PABALSTS": "sickness_benefit",
    "VECAKU_PABALSTS": "parental_benefit",
    "VSNP": "state_social_security_benefit",
}
DEDUCTIONS = {
    "UZTURLIDZEKLU_GARANTIJA": "maintenance_guarantee",
    "TIESAS_NOLEMUMS": "court_ruling",
    "PARMAKSA": "overpayment",
    "NODOKLIS": "tax",
}

# e-service: (request element, answer element, query model)
SERVICES: dict[str, tuple[str, str, type[CanonicalQuery]]] = {
    "EP50": (f"{{{NS}}}EP50Pieprasijums", f"{{{NS}}}EP50Atbilde", DeductionsQuery),
    "EP51": (f"{{{NS}}}EP51Pieprasijums", f"{{{NS}}}EP51Atbilde", GrantedBenefitsQuery),
    "EP52": (f"{{{NS}}}EP52Pieprasijums", f"{{{NS}}}EP52Atbilde", PaymentsQuery),
}
BY_TYPE = {query.TYPE: (name, request, answer) for name, (request, answer, query) in SERVICES.items()}

REQUEST = Table(
    NS,
    Field("person_code", "PersonasKods"),
    Field("period_from", "PeriodsNo"),
    Field("period_to", "PeriodsLidz"),
    Field("as_of", "UzDatumu"),
    omit_missing=True,
)
"""Every e-service's request: each query has the fields of its own service only."""
_MONTH = Field("month", "Menesis")
_BENEFIT = Field("benefit", "Veids", codes=KINDS)
_AMOUNT = Field("amount", "SummaEUR")
# query model -> the table of its answer: the answer's one list, each item a nested table
ANSWERS: dict[type[CanonicalQuery], Table] = {
    DeductionsQuery: Table(
        NS,
        Field(
            "deductions",
            "Ieturejums",
            many=True,
            table=Table(NS, _MONTH, _BENEFIT, Field("kind", "IeturejumaVeids", codes=DEDUCTIONS), _AMOUNT),
        ),
    ),
    GrantedBenefitsQuery: Table(
        NS,
        Field(
            "benefits",
            "PieskirtsMaksajums",
            many=True,
            table=Table(
                NS,
                _BENEFIT,
                Field("granted_from", "PieskirtsNo"),
                Field("granted_to", "PieskirtsLidz"),
                Field("monthly_amount", "MenesaSummaEUR"),
            ),
        ),
    ),
    PaymentsQuery: Table(
        NS,
        Field(
            "payments",
            "Izmaksa",
            many=True,
            table=Table(NS, _MONTH, _BENEFIT, _AMOUNT, Field("sent_on", "NosutitsDatums")),
        ),
    ),
}
_BY_ANSWER = {query.ANSWER: (BY_TYPE[query.TYPE][2], table) for query, table in ANSWERS.items()}
_BY_QUERY_TYPE = {query.TYPE: (query.ANSWER, table) for query, table in ANSWERS.items()}


def request_to_canonical(request: etree._Element) -> list[Parsed]:
    name = etree.QName(request).localname
    service = name.removesuffix("Pieprasijums")
    query = SERVICES[service][2]
    collector = RecordCollector()
    collector.add(query, REQUEST.read(request), at=name, fields=REQUEST.paths, source=request)
    return collector.result()


def query_to_xml(query: CanonicalQuery) -> etree._Element:
    _, request, _ = BY_TYPE[query.TYPE]
    return REQUEST.write(etree.Element(request, nsmap={"vsaa": NS}), query)


def answer_to_xml(answer: Answer) -> etree._Element:
    if type(answer) not in _BY_ANSWER:
        raise TypeError(f"VSAA gives no {type(answer).__name__}")
    tag, table = _BY_ANSWER[type(answer)]
    return table.write(etree.Element(tag, nsmap={"vsaa": NS}), answer)


def answer_from_xml(query_type: str, element: etree._Element) -> Answer:
    model, table = _BY_QUERY_TYPE[query_type]
    return model(**table.read(element))
