"""LIETIS's `DataLoad` to canonical records and back.

Records of all kinds interleave in one list; facts are attributes (`Decision/@takenAt`,
`Period/@from`), amounts carry an explicit currency, codes are lower-case words with hyphens.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from hub.canonical import (
    BenefitGranted,
    CanonicalRecord,
    HouseholdStatusDecision,
    Municipality,
    SocialServiceProvided,
)
from hub.canonical.mapping import Parsed, RecordCollector
from hub.xml.fields import Field, Table, group

NS = "urn:lv:daugavpils:lietis:exchange:v1"

BENEFIT_KINDS = {"gmi": "gmi", "housing": "housing", "other": "municipal_other"}
STATUSES = {"needy": "needy", "low-income": "low_income"}


def _to_canonical_code(code: str | None) -> str:
    return (code or "").replace("-", "_")


def _to_lietis_code(value: str) -> str:
    return value.replace("_", "-")


def _eur(name: str, path: str) -> Field:
    """An amount, written with its currency (always EUR; read without it)."""
    return Field(name, path, attributes={"currency": "EUR"})


def _period(element: str, start: str, end: str) -> tuple[Field, ...]:
    return group(element, Field(start, "@from"), Field(end, "@to"))


PLACE = Table(NS, Field("atvk", "@municipalityCode"), Field("name", "@municipalityName"))
_COMMON = (
    Field("record_id", "@recordId"),
    Field("person_code", "Client/@personCode"),
    *group(
        "Decision",
        Field("decision_number", "@number"),
        Field("decision_date", "@date"),
        Field("decided_at", "@takenAt"),
    ),
)
_PERIOD = _period("Period", "period_from", "period_to")
BENEFIT = Table(
    NS,
    *_COMMON,
    Field("benefit_kind", "@kind", codes=BENEFIT_KINDS),
    Field("benefit_name", "@name"),
    *_PERIOD,
    _eur("amount", "Amount"),
)
STATUS = Table(
    NS,
    *_COMMON,
    Field("status", "@status", codes=STATUSES),
    Field("household_size", "@members"),
    *_period("Validity", "valid_from", "valid_to"),
    _eur("income_per_member", "IncomePerMember"),
)
SERVICE = Table(
    NS,
    *_COMMON,
    Field("service_code", "@service", read=_to_canonical_code, write=_to_lietis_code),
    Field("funding", "@funding"),
    *group("Provider", Field("provider_register_no", "@registerNo"), Field("provider_name", "@name")),
    *_PERIOD,
    _eur("cost", "Cost"),
)
# record element -> (model, table); the load lists records of every kind in any order
KINDS = {
    f"{{{NS}}}Benefit": (BenefitGranted, BENEFIT),
    f"{{{NS}}}HouseholdStatus": (HouseholdStatusDecision, STATUS),
    f"{{{NS}}}ServiceProvision": (SocialServiceProvided, SERVICE),
}
_TAGS = {model: tag for tag, (model, _) in KINDS.items()}
_ROOT, _ID = "DataLoad", "loadId"
DATA_LOAD = f"{{{NS}}}{_ROOT}"


def to_canonical(load: etree._Element) -> list[Parsed]:
    municipality = PLACE.read(load)
    records = RecordCollector()
    counts: dict[str, int] = {}
    totals = {tag: len(load.findall(tag)) for tag in KINDS}
    cut = len(NS) + 2
    for item in load:
        tag = item.tag
        kind = KINDS.get(tag)
        if kind is None:
            continue
        model, table = kind
        name = tag[cut:]
        counts[name] = counts.get(name, 0) + 1
        at = f"{_ROOT}/{name}[{counts[name]}]" if totals[tag] > 1 else f"{_ROOT}/{name}"
        values = table.read(item)
        values["municipality"] = municipality
        records.add(model, values, at=at, fields=table.paths, source=item)
    return records.result()


def from_canonical(records: Sequence[CanonicalRecord], municipality: Municipality, load_id: str) -> etree._Element:
    """What the LIETIS simulator sends."""
    load = etree.Element(DATA_LOAD, {_ID: load_id}, nsmap={"lt": NS})
    PLACE.write(load, municipality)
    for record in records:
        tag = _TAGS.get(type(record))
        if tag is not None:
            KINDS[tag][1].write(etree.SubElement(load, tag), record)
    return load
