"""GVS's `Eksports` to canonical records and back.

Person-centric: a `Klients` (person code once) holds that person's decisions; short Latvian
codes; amounts in whole euro cents, which the canonical model holds as EUR with two decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from hub.canonical import (
    BenefitGranted,
    CanonicalRecord,
    HouseholdStatusDecision,
    Municipality,
    SocialServiceProvided,
)
from hub.canonical.mapping import Parsed, RecordCollector
from hub.xml.read import child_texts, indexed_children

NS = "urn:lv:lm:gvs:eksports:v1"
EXPORT = f"{{{NS}}}Eksports"

BENEFIT_KINDS = {"GMI": "gmi", "MP": "housing", "CP": "municipal_other"}
STATUSES = {"T": "needy", "M": "low_income"}
SERVICES = {
    "ISAR": "long_term_care",
    "DC": "day_centre",
    "AM": "home_care",
    "NP": "night_shelter",
    "KC": "crisis_centre",
    "GD": "group_home",
    "SR": "rehabilitation",
    "GA": "family_support",
    "CITS": "other",
}
FUNDING = {"V": "state", "P": "municipal", "J": "mixed"}

_COMMON_FIELDS = {
    "record_id": "@id",
    "decision_number": "Lem/@nr",
    "decision_date": "Lem/@dat",
    "decided_at": "Lem/@laiks",
}
BENEFIT_FIELDS = {
    **_COMMON_FIELDS,
    "benefit_kind": "@veids",
    "benefit_name": "@nosaukums",
    "period_from": "No",
    "period_to": "Lidz",
    "amount": "SummaCenti",
}
STATUS_FIELDS = {
    **_COMMON_FIELDS,
    "status": "@veids",
    "household_size": "@locekli",
    "valid_from": "No",
    "valid_to": "Lidz",
    "income_per_member": "IenakumiCenti",
}
SERVICE_FIELDS = {
    **_COMMON_FIELDS,
    "service_code": "@kods",
    "funding": "@fin",
    "provider_register_no": "Sniedzejs/@regNr",
    "provider_name": "Sniedzejs",
    "period_from": "No",
    "period_to": "Lidz",
    "cost": "IzmaksasCenti",
}


def cents_to_eur(cents: str | None) -> Decimal | None:
    return Decimal(int(cents)).scaleb(-2) if cents else None


def _common(item: etree._Element, person_code: str | None, municipality: dict[str, str | None]) -> dict:
    decision = item.find(f"{{{NS}}}Lem")
    return {
        "record_id": item.get("id"),
        "person_code": person_code,
        "municipality": municipality,
        "decision_number": decision.get("nr"),
        "decision_date": decision.get("dat"),
        "decided_at": decision.get("laiks"),
    }


def to_canonical(export: etree._Element) -> list[Parsed]:
    office = export.find(f"{{{NS}}}Iestade")
    municipality = {"atvk": office.get("atvk"), "name": office.get("pasvaldiba")}
    records = RecordCollector()
    for client_at, client in indexed_children(export, NS, "Klients", "Eksports"):
        person_code = client.get("pk")
        person = {"person_code": f"/{client_at}/@pk"}
        for at, item in indexed_children(client, NS, "Pabalsts", client_at):
            v = child_texts(item, NS)
            records.add(
                BenefitGranted,
                {
                    **_common(item, person_code, municipality),
                    "benefit_kind": BENEFIT_KINDS.get(item.get("veids", "")),
                    "benefit_name": item.get("nosaukums"),
                    "period_from": v.get("No"),
                    "period_to": v.get("Lidz"),
                    "amount": cents_to_eur(v.get("SummaCenti")),
                },
                at=at,
                fields={**BENEFIT_FIELDS, **person},
                source=item,
            )
        for at, item in indexed_children(client, NS, "Statuss", client_at):
            v = child_texts(item, NS)
            records.add(
                HouseholdStatusDecision,
                {
                    **_common(item, person_code, municipality),
                    "status": STATUSES.get(item.get("veids", "")),
                    "household_size": item.get("locekli"),
                    "valid_from": v.get("No"),
                    "valid_to": v.get("Lidz"),
                    "income_per_member": cents_to_eur(v.get("IenakumiCenti")),
                },
                at=at,
                fields={**STATUS_FIELDS, **person},
                source=item,
            )
        for at, item in indexed_children(client, NS, "Pakalpojums", client_at):
            v = child_texts(item, NS)
            provider = item.find(f"{{{NS}}}Sniedzejs")
            records.add(
                SocialServiceProvided,
                {
                    **_common(item, person_code, municipality),
                    "service_code": SERVICES.get(item.get("kods", "")),
                    "funding": FUNDING.get(item.get("fin", "")),
                    "provider_register_no": provider.get("regNr"),
                    "provider_name": (provider.text or "").strip(),
                    "period_from": v.get("No"),
                    "period_to": v.get("Lidz"),
                    "cost": cents_to_eur(v.get("IzmaksasCenti")),
                },
                at=at,
                fields={**SERVICE_FIELDS, **person},
                source=item,
            )
    return records.result()


# -- canonical -> GVS (what the GVS simulator sends) -------------------------------------------

_BENEFIT_CODES = {v: k for k, v in BENEFIT_KINDS.items()}
_STATUS_CODES = {v: k for k, v in STATUSES.items()}
_SERVICE_CODES = {v: k for k, v in SERVICES.items()}
_FUNDING_CODES = {v: k for k, v in FUNDING.items()}


def _cents(value: Decimal) -> str:
    return str(int(value * 100))


def _el(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _decision(item: etree._Element, record: CanonicalRecord) -> None:
    _el(
        item,
        "Lem",
        nr=record.decision_number,
        dat=record.decision_date.isoformat(),
        laiks=record.decided_at.isoformat(),
    )


def from_canonical(records: Sequence[CanonicalRecord], municipality: Municipality, export_id: str) -> etree._Element:
    export = etree.Element(EXPORT, nsmap={"gvs": NS}, eksportaId=export_id)
    _el(export, "Iestade", atvk=municipality.atvk, pasvaldiba=municipality.name)
    by_person: dict[str, list[CanonicalRecord]] = {}
    for record in records:
        by_person.setdefault(record.person_code, []).append(record)
    for person_code, own in by_person.items():
        client = _el(export, "Klients", pk=person_code)
        for b in (r for r in own if isinstance(r, BenefitGranted)):
            item = _el(client, "Pabalsts", id=b.record_id, veids=_BENEFIT_CODES[b.benefit_kind])
            if b.benefit_name:
                item.set("nosaukums", b.benefit_name)
            _decision(item, b)
            _el(item, "No", b.period_from.isoformat())
            _el(item, "Lidz", b.period_to.isoformat())
            _el(item, "SummaCenti", _cents(b.amount))
        for s in (r for r in own if isinstance(r, HouseholdStatusDecision)):
            item = _el(client, "Statuss", id=s.record_id, veids=_STATUS_CODES[s.status], locekli=str(s.household_size))
            _decision(item, s)
            _el(item, "No", s.valid_from.isoformat())
            _el(item, "Lidz", s.valid_to.isoformat())
            _el(item, "IenakumiCenti", _cents(s.income_per_member))
        for p in (r for r in own if isinstance(r, SocialServiceProvided)):
            item = _el(
                client,
                "Pakalpojums",
                id=p.record_id,
                kods=_SERVICE_CODES[p.service_code],
                fin=_FUNDING_CODES[p.funding],
            )
            _decision(item, p)
            _el(item, "Sniedzejs", p.provider_name, regNr=p.provider_register_no)
            _el(item, "No", p.period_from.isoformat())
            if p.period_to:
                _el(item, "Lidz", p.period_to.isoformat())
            if p.cost is not None:
                _el(item, "IzmaksasCenti", _cents(p.cost))
    return export
