"""VSAA's e-service messages (EP50, EP51, EP52) to canonical queries and answers, and back."""

from __future__ import annotations

from lxml import etree

from hub.canonical.mapping import Parsed, RecordCollector
from hub.canonical.queries import (
    Answer,
    CanonicalQuery,
    DeductionsAnswer,
    DeductionsQuery,
    GrantedBenefitsAnswer,
    GrantedBenefitsQuery,
    PaymentsAnswer,
    PaymentsQuery,
)
from hub.xml.read import child_texts, sub

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
_KIND_CODES = {v: k for k, v in KINDS.items()}
_DEDUCTION_CODES = {v: k for k, v in DEDUCTIONS.items()}

# e-service: (request element, answer element, query model)
SERVICES: dict[str, tuple[str, str, type[CanonicalQuery]]] = {
    "EP50": (f"{{{NS}}}EP50Pieprasijums", f"{{{NS}}}EP50Atbilde", DeductionsQuery),
    "EP51": (f"{{{NS}}}EP51Pieprasijums", f"{{{NS}}}EP51Atbilde", GrantedBenefitsQuery),
    "EP52": (f"{{{NS}}}EP52Pieprasijums", f"{{{NS}}}EP52Atbilde", PaymentsQuery),
}
BY_TYPE = {query.TYPE: (name, request, answer) for name, (request, answer, query) in SERVICES.items()}
_FIELDS = {"person_code": "PersonasKods", "period_from": "PeriodsNo", "period_to": "PeriodsLidz", "as_of": "UzDatumu"}


def request_to_canonical(request: etree._Element) -> list[Parsed]:
    name = etree.QName(request).localname
    service = name.removesuffix("Pieprasijums")
    query = SERVICES[service][2]
    v = child_texts(request, NS)
    values = {field: v.get(tag) for field, tag in _FIELDS.items() if tag in v}
    collector = RecordCollector()
    collector.add(query, values, at=name, fields=_FIELDS, source=request)
    return collector.result()


def query_to_xml(query: CanonicalQuery) -> etree._Element:
    _, request, _ = BY_TYPE[query.TYPE]
    element = etree.Element(request, nsmap={"vsaa": NS})
    sub(element, NS, "PersonasKods", query.person_code)
    if isinstance(query, GrantedBenefitsQuery):
        sub(element, NS, "UzDatumu", query.as_of.isoformat())
    else:
        sub(element, NS, "PeriodsNo", query.period_from.isoformat())  # type: ignore[attr-defined]
        sub(element, NS, "PeriodsLidz", query.period_to.isoformat())  # type: ignore[attr-defined]
    return element


def answer_to_xml(answer: Answer) -> etree._Element:
    if isinstance(answer, DeductionsAnswer):
        element = etree.Element(f"{{{NS}}}EP50Atbilde", nsmap={"vsaa": NS})
        for d in answer.deductions:
            item = sub(element, NS, "Ieturejums")
            sub(item, NS, "Menesis", d.month)
            sub(item, NS, "Veids", _KIND_CODES[d.benefit])
            sub(item, NS, "IeturejumaVeids", _DEDUCTION_CODES[d.kind])
            sub(item, NS, "SummaEUR", f"{d.amount:.2f}")
    elif isinstance(answer, GrantedBenefitsAnswer):
        element = etree.Element(f"{{{NS}}}EP51Atbilde", nsmap={"vsaa": NS})
        for b in answer.benefits:
            item = sub(element, NS, "PieskirtsMaksajums")
            sub(item, NS, "Veids", _KIND_CODES[b.benefit])
            sub(item, NS, "PieskirtsNo", b.granted_from.isoformat())
            if b.granted_to:
                sub(item, NS, "PieskirtsLidz", b.granted_to.isoformat())
            sub(item, NS, "MenesaSummaEUR", f"{b.monthly_amount:.2f}")
    elif isinstance(answer, PaymentsAnswer):
        element = etree.Element(f"{{{NS}}}EP52Atbilde", nsmap={"vsaa": NS})
        for p in answer.payments:
            item = sub(element, NS, "Izmaksa")
            sub(item, NS, "Menesis", p.month)
            sub(item, NS, "Veids", _KIND_CODES[p.benefit])
            sub(item, NS, "SummaEUR", f"{p.amount:.2f}")
            sub(item, NS, "NosutitsDatums", p.sent_on.isoformat())
    else:
        raise TypeError(f"VSAA gives no {type(answer).__name__}")
    return element


def answer_from_xml(query_type: str, element: etree._Element) -> Answer:
    items = [child_texts(item, NS) for item in element]
    if query_type == DeductionsQuery.TYPE:
        return DeductionsAnswer(
            deductions=[
                {
                    "month": i["Menesis"],
                    "benefit": KINDS[i["Veids"]],
                    "kind": DEDUCTIONS[i["IeturejumaVeids"]],
                    "amount": i["SummaEUR"],
                }
                for i in items
            ]
        )
    if query_type == GrantedBenefitsQuery.TYPE:
        return GrantedBenefitsAnswer(
            benefits=[
                {
                    "benefit": KINDS[i["Veids"]],
                    "granted_from": i["PieskirtsNo"],
                    "granted_to": i.get("PieskirtsLidz"),
                    "monthly_amount": i["MenesaSummaEUR"],
                }
                for i in items
            ]
        )
    return PaymentsAnswer(
        payments=[
            {
                "month": i["Menesis"],
                "benefit": KINDS[i["Veids"]],
                "amount": i["SummaEUR"],
                "sent_on": i["NosutitsDatums"],
            }
            for i in items
        ]
    )
