"""VDEĀVK's messages: opinion batches (F3) to canonical records, GetUniversalServiceDataIS (F4)
both ways."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from hub.canonical import AssistantOpinion
from hub.canonical.mapping import Parsed, RecordCollector
from hub.canonical.queries import Answer, DisabilityAnswer, DisabilityQuery
from hub.xml.fields import Field, Table
from hub.xml.read import indexed_children, sub

NS = "urn:lv:vdeavk:disability:v1"
SERVICE_NS = "urn:lv:vdeavk:disability:service:v1"
_OPINIONS, _QUERY = "OpinionBatch", "GetUniversalServiceDataIS"
OPINIONS, QUERY, ANSWER = f"{{{NS}}}{_OPINIONS}", f"{{{NS}}}{_QUERY}", f"{{{NS}}}{_QUERY}Response"


def _is_true(text: str | None) -> bool:
    return text == "true"


_PERSON = Field("person_code", "PersonCode")
_HOURS = Field("hours_per_week", "HoursPerWeek")
_VALIDITY = (Field("valid_from", "ValidFrom"), Field("valid_to", "ValidTo"))
_DISABILITY_GROUP = Field("disability_group", "DisabilityGroup")
OPINION = Table(
    NS,
    Field("record_id", "OpinionId"),
    _PERSON,
    Field("decision_number", "OpinionNumber"),
    Field("decision_date", "IssuedOn"),
    Field("decided_at", "DecidedAt"),
    Field("needed", "AssistantNeeded"),
    _HOURS,
    *_VALIDITY,
    _DISABILITY_GROUP,
    omit_missing=True,
)
DISABILITY_QUERY = Table(NS, _PERSON)
OPINION_SUMMARY = Table(
    NS,
    Field("opinion_id", "OpinionId"),
    Field("issued_on", "IssuedOn"),
    Field("needed", "Needed", read=_is_true),
    _HOURS,
    strip=False,  # read as VDEĀVK wrote them, as they always were
)
DISABILITY_ANSWER = Table(
    NS,
    Field("found", "Found", read=_is_true),
    _DISABILITY_GROUP,
    *_VALIDITY,
    Field("impairments", "FunctionalImpairment", many=True),
    Field("assistant_opinion", "AssistantOpinion", table=OPINION_SUMMARY),
)
_OPINION = "Opinion"


def opinions_to_canonical(batch: etree._Element) -> list[Parsed]:
    records = RecordCollector()
    for at, item in indexed_children(batch, NS, _OPINION, _OPINIONS):
        records.add(AssistantOpinion, OPINION.read(item), at=at, fields=OPINION.paths, source=item)
    return records.result()


def opinions_to_xml(opinions: Sequence[AssistantOpinion]) -> etree._Element:
    batch = etree.Element(OPINIONS, nsmap={"vd": NS})
    for o in opinions:
        OPINION.write(sub(batch, NS, _OPINION), o)
    return batch


def query_to_canonical(request: etree._Element) -> list[Parsed]:
    records = RecordCollector()
    records.add(
        DisabilityQuery,
        DISABILITY_QUERY.read(request),
        at=_QUERY,
        fields=DISABILITY_QUERY.paths,
        source=request,
    )
    return records.result()


def query_to_xml(query: DisabilityQuery) -> etree._Element:
    return DISABILITY_QUERY.write(etree.Element(QUERY, nsmap={"vd": NS}), query)


def answer_to_xml(answer: Answer) -> etree._Element:
    assert isinstance(answer, DisabilityAnswer)
    return DISABILITY_ANSWER.write(etree.Element(ANSWER, nsmap={"vd": NS}), answer)


def answer_from_xml(element: etree._Element) -> DisabilityAnswer:
    return DisabilityAnswer(**DISABILITY_ANSWER.read(element))
