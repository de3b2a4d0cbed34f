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

NS = "urn:lv:daugavpils:lietis:exchange:v1"
DATA_LOAD = f"{{{NS}}}DataLoad"
_BENEFIT, _STATUS, _SERVICE = f"{{{NS}}}Benefit", f"{{{NS}}}HouseholdStatus", f"{{{NS}}}ServiceProvision"

BENEFIT_KINDS = {"gmi": "gmi", "housing": "housing", "other": "municipal_other"}
STATUSES = {"needy": "needy", "low-income": "low_income"}

_COMMON_FIELDS = {
    "record_id": "@recordId",
    "person_code": "Client/@personCode",
    "decision_number": "Decision/@number",
    "decision_date": "Decision/@date",
    "decided_at": "Decision/@takenAt",
}
BENEFIT_FIELDS = {
    **_COMMON_FIELDS,
    "benefit_kind": "@kind",
    "benefit_name": "@name",
    "period_from": "Period/@from",
    "period_to": "Period/@to",
    "amount": "Amount",
}
STATUS_FIELDS = {
    **_COMMON_FIELDS,
    "status": "@status",
    "household_size": "@members",
    "valid_from": "Validity/@from",
    "valid_to": "Validity/@to",
    "income_per_member": "IncomePerMember",
}
SERVICE_FIELDS = {
    **_COMMON_FIELDS,
    "service_code": "@service",
    "funding": "@funding",
    "provider_register_no": "Provider/@registerNo",
    "provider_name": "Provider/@name",
    "period_from": "Period/@from",
    "period_to": "Period/@to",
    "cost": "Cost",
}


def _parts(item: etree._Element) -> dict[str, etree._Element]:
    return {child.tag[len(NS) + 2 :]: child for child in item if isinstance(child.tag, str)}


def _common(item: etree._Element, parts: dict[str, etree._Element], municipality: dict[str, str | None]) -> dict:
    decision = parts["Decision"]
    return {
        "record_id": item.get("recordId"),
        "person_code": parts["Client"].get("personCode"),
        "municipality": municipality,
        "decision_number": decision.get("number"),
        "decision_date": decision.get("date"),
        "decided_at": decision.get("takenAt"),
    }


def _text(element: etree._Element | None) -> str | None:
    return (element.text or "").strip() if element is not None else None


def to_canonical(load: etree._Element) -> list[Parsed]:
    municipality = {"atvk": load.get("municipalityCode"), "name": load.get("municipalityName")}
    records = RecordCollector()
    counts: dict[str, int] = {}
    totals = {tag: len(load.findall(tag)) for tag in (_BENEFIT, _STATUS, _SERVICE)}
    for item in load:
        if not isinstance(item.tag, str):
            continue
        name = item.tag[len(NS) + 2 :]
        counts[name] = counts.get(name, 0) + 1
        at = f"DataLoad/{name}[{counts[name]}]" if totals[item.tag] > 1 else f"DataLoad/{name}"
        parts = _parts(item)
        common = _common(item, parts, municipality)
        if item.tag == _BENEFIT:
            period = parts["Period"]
            values = {
                **common,
                "benefit_kind": BENEFIT_KINDS.get(item.get("kind", "")),
                "benefit_name": item.get("name"),
                "period_from": period.get("from"),
                "period_to": period.get("to"),
                "amount": _text(parts.get("Amount")),
            }
            records.add(BenefitGranted, values, at=at, fields=BENEFIT_FIELDS, source=item)
        elif item.tag == _STATUS:
            validity = parts["Validity"]
            values = {
                **common,
                "status": STATUSES.get(item.get("status", "")),
                "household_size": item.get("members"),
                "valid_from": validity.get("from"),
                "valid_to": validity.get("to"),
                "income_per_member": _text(parts.get("IncomePerMember")),
            }
            records.add(HouseholdStatusDecision, values, at=at, fields=STATUS_FIELDS, source=item)
        else:
            period, provider = parts["Period"], parts["Provider"]
            values = {
                **common,
                "service_code": (item.get("service") or "").replace("-", "_"),
                "funding": item.get("funding"),
                "provider_register_no": provider.get("registerNo"),
                "provider_name": provider.get("name"),
                "period_from": period.get("from"),
                "period_to": period.get("to"),
                "cost": _text(parts.get("Cost")),
            }
            records.add(SocialServiceProvided, values, at=at, fields=SERVICE_FIELDS, source=item)
    return records.result()


# -- canonical -> LIETIS (what the LIETIS simulator sends) -------------------------------------

_BENEFIT_CODES = {v: k for k, v in BENEFIT_KINDS.items()}
_STATUS_CODES = {v: k for k, v in STATUSES.items()}


def _money(parent: etree._Element, name: str, value) -> None:  # type: ignore[no-untyped-def]
    etree.SubElement(parent, f"{{{NS}}}{name}", currency="EUR").text = f"{value:.2f}"


def _head(item: etree._Element, record: CanonicalRecord) -> None:
    etree.SubElement(item, f"{{{NS}}}Client", personCode=record.person_code)
    etree.SubElement(
        item,
        f"{{{NS}}}Decision",
        number=record.decision_number,
        date=record.decision_date.isoformat(),
        takenAt=record.decided_at.isoformat(),
    )


def from_canonical(records: Sequence[CanonicalRecord], municipality: Municipality, load_id: str) -> etree._Element:
    load = etree.Element(
        DATA_LOAD,
        nsmap={"lt": NS},
        loadId=load_id,
        municipalityCode=municipality.atvk,
        municipalityName=municipality.name,
    )
    for record in records:
        if isinstance(record, BenefitGranted):
            item = etree.SubElement(load, _BENEFIT, recordId=record.record_id, kind=_BENEFIT_CODES[record.benefit_kind])
            if record.benefit_name:
                item.set("name", record.benefit_name)
            _head(item, record)
            etree.SubElement(
                item, f"{{{NS}}}Period", {"from": record.period_from.isoformat(), "to": record.period_to.isoformat()}
            )
            _money(item, "Amount", record.amount)
        elif isinstance(record, HouseholdStatusDecision):
            item = etree.SubElement(
                load,
                _STATUS,
                recordId=record.record_id,
                status=_STATUS_CODES[record.status],
                members=str(record.household_size),
            )
            _head(item, record)
            etree.SubElement(
                item, f"{{{NS}}}Validity", {"from": record.valid_from.isoformat(), "to": record.valid_to.isoformat()}
            )
            _money(item, "IncomePerMember", record.income_per_member)
        elif isinstance(record, SocialServiceProvided):
            item = etree.SubElement(
                load,
                _SERVICE,
                recordId=record.record_id,
                service=record.service_code.replace("_", "-"),
                funding=record.funding,
            )
            _head(item, record)
            etree.SubElement(
                item, f"{{{NS}}}Provider", registerNo=record.provider_register_no, name=record.provider_name
            )
            period = {"from": record.period_from.isoformat()}
            if record.period_to:
                period["to"] = record.period_to.isoformat()
            etree.SubElement(item, f"{{{NS}}}Period", period)
            if record.cost is not None:
                _money(item, "Cost", record.cost)
    return load
