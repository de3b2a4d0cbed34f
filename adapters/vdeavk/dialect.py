"""VDEĀVK's messages: opinion batches (F3) to canonical records, GetUniversalServiceDataIS (F4)
both ways."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from hub.canonical import AssistantOpinion
from hub.canonical.mapping import Parsed, RecordCollector
from hub.canonical.queries import Answer, DisabilityAnswer, DisabilityQuery
from hub.xml.read import child, child_texts, indexed_children, sub

NS = "urn:lv:vdeavk:disability:v1"
SERVICE_NS = "urn:lv:vdeavk:disability:service:v1"
OPINIONS = f"{{{NS}}}OpinionBatch"
QUERY = f"{{{NS}}}GetUniversalServiceDataIS"
ANSWER = f"{{{NS}}}GetUniversalServiceDataISResponse"

OPINION_FIELDS = {
    "record_id": "OpinionId",
    "person_code": "PersonCode",
    "decision_number": "OpinionNumber",
    "decision_date": "IssuedOn",
    "decided_at": "DecidedAt",
    "needed": "AssistantNeeded",
    "hours_per_week": "HoursPerWeek",
    "valid_from": "ValidFrom",
    "valid_to": "ValidTo",
    "disability_group": "DisabilityGroup",
}


def opinions_to_canonical(batch: etree._Element) -> list[Parsed]:
    records = RecordCollector()
    for at, item in indexed_children(batch, NS, "Opinion", "OpinionBatch"):
        v = child_texts(item, NS)
        values = {field: v.get(tag) for field, tag in OPINION_FIELDS.items() if tag in v}
        records.add(AssistantOpinion, values, at=at, fields=OPINION_FIELDS, source=item)
    return records.result()


def opinions_to_xml(opinions: Sequence[AssistantOpinion]) -> etree._Element:
    batch = etree.Element(OPINIONS, nsmap={"vd": NS})
    for o in opinions:
        item = sub(batch, NS, "Opinion")
        for field, tag in OPINION_FIELDS.items():
            value = getattr(o, field)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            sub(item, NS, tag, value)
    return batch


def query_to_canonical(request: etree._Element) -> list[Parsed]:
    records = RecordCollector()
    records.add(
        DisabilityQuery,
        {"person_code": request.findtext(f"{{{NS}}}PersonCode")},
        at="GetUniversalServiceDataIS",
        fields={"person_code": "PersonCode"},
        source=request,
    )
    return records.result()


def query_to_xml(query: DisabilityQuery) -> etree._Element:
    request = etree.Element(QUERY, nsmap={"vd": NS})
    sub(request, NS, "PersonCode", query.person_code)
    return request


def answer_to_xml(answer: Answer) -> etree._Element:
    assert isinstance(answer, DisabilityAnswer)
    element = etree.Element(ANSWER, nsmap={"vd": NS})
    sub(element, NS, "Found", "true" if answer.found else "false")
    if answer.disability_group:
        sub(element, NS, "DisabilityGroup", answer.disability_group)
    for tag, value in (("ValidFrom", answer.valid_from), ("ValidTo", answer.valid_to)):
        if value:
            sub(element, NS, tag, value.isoformat())
    for impairment in answer.impairments:
        sub(element, NS, "FunctionalImpairment", impairment)
    if answer.assistant_opinion:
        o = answer.assistant_opinion
        opinion = sub(element, NS, "AssistantOpinion")
        sub(opinion, NS, "OpinionId", o.opinion_id)
        sub(opinion, NS, "IssuedOn", o.issued_on.isoformat())
        sub(opinion, NS, "Needed", "true" if o.needed else "false")
        if o.hours_per_week:
            sub(opinion, NS, "HoursPerWeek", o.hours_per_week)
    return element


def answer_from_xml(element: etree._Element) -> DisabilityAnswer:
    v = child_texts(element, NS)
    opinion = child(element, NS, "AssistantOpinion")
    return DisabilityAnswer(
        found=v.get("Found") == "true",
        disability_group=v.get("DisabilityGroup"),
        valid_from=v.get("ValidFrom"),
        valid_to=v.get("ValidTo"),
        impairments=[(e.text or "").strip() for e in element.iterfind(f"{{{NS}}}FunctionalImpairment")],
        assistant_opinion=(
            {
                "opinion_id": opinion.findtext(f"{{{NS}}}OpinionId"),
                "issued_on": opinion.findtext(f"{{{NS}}}IssuedOn"),
                "needed": opinion.findtext(f"{{{NS}}}Needed") == "true",
                "hours_per_week": opinion.findtext(f"{{{NS}}}HoursPerWeek"),
            }
            if opinion is not None
            else None
        ),
    )
