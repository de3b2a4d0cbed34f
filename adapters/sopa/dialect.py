"""SOPA's `DatuPakete` to canonical records and back.

Records come grouped by kind (Pabalsti, Statusi, Pakalpojumi), the municipality once per package,
decisions as a nested `Lemums`; codes are Latvian upper-case words.
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
from hub.xml.read import child, child_texts, indexed_children, sub, texts_within

NS = "urn:lv:riga:sopa:spolis:v1"
DATA_PACKAGE = f"{{{NS}}}DatuPakete"

BENEFIT_KINDS = {"GMI": "gmi", "MAJOKLA": "housing", "CITS": "municipal_other"}
STATUSES = {"TRUCIGA": "needy", "MAZNODROSINATA": "low_income"}
SERVICES = {
    "ILGSTOSA_APRUPE": "long_term_care",
    "DIENAS_CENTRS": "day_centre",
    "APRUPE_MAJAS": "home_care",
    "NAKTS_PATVERSME": "night_shelter",
    "KRIZES_CENTRS": "crisis_centre",
    "GRUPU_DZIVOKLIS": "group_home",
    "REHABILITACIJA": "rehabilitation",
    "ATBALSTS_GIMENEI": "family_support",
    "CITS": "other",
}
FUNDING = {"VALSTS": "state", "PASVALDIBA": "municipal", "JAUKTS": "mixed"}

_COMMON_FIELDS = {
    "record_id": "IerakstaId",
    "person_code": "PersonasKods",
    "decision_number": "Lemums/Numurs",
    "decision_date": "Lemums/Datums",
    "decided_at": "Lemums/PienemsanasLaiks",
}
BENEFIT_FIELDS = {
    **_COMMON_FIELDS,
    "benefit_kind": "PabalstaVeids",
    "benefit_name": "PabalstaNosaukums",
    "period_from": "PeriodsNo",
    "period_to": "PeriodsLidz",
    "amount": "SummaEUR",
}
STATUS_FIELDS = {
    **_COMMON_FIELDS,
    "status": "StatusaVeids",
    "valid_from": "DerigsNo",
    "valid_to": "DerigsLidz",
    "household_size": "MajsaimniecibasLocekli",
    "income_per_member": "IenakumiUzLocekliEUR",
}
SERVICE_FIELDS = {
    **_COMMON_FIELDS,
    "service_code": "PakalpojumaVeids",
    "provider_register_no": "Sniedzejs/RegistraNr",
    "provider_name": "Sniedzejs/Nosaukums",
    "period_from": "PeriodsNo",
    "period_to": "PeriodsLidz",
    "funding": "Finansejums",
    "cost": "IzmaksasEUR",
}


def _common(values: dict[str, str], municipality: dict[str, str]) -> dict[str, object]:
    return {
        "record_id": values.get("IerakstaId"),
        "person_code": values.get("PersonasKods"),
        "municipality": municipality,
        "decision_number": values.get("Numurs"),
        "decision_date": values.get("Datums"),
        "decided_at": values.get("PienemsanasLaiks"),
    }


def to_canonical(package: etree._Element) -> list[Parsed]:
    """`package` is schema-valid; what the schema cannot say (check digits, periods) is checked here.
    No record element of the schema shares its name with another in the same record (the decision's
    `Numurs`, the provider's `Nosaukums`), so each record is read in one pass."""
    place = child_texts(child(package, NS, "Pasvaldiba"), NS)
    municipality = {"atvk": place.get("AtvkKods"), "name": place.get("Nosaukums")}
    records = RecordCollector()
    root = "DatuPakete"

    if (group := child(package, NS, "Pabalsti")) is not None:
        for at, item in indexed_children(group, NS, "Pabalsts", f"{root}/Pabalsti"):
            v = texts_within(item, NS)
            records.add(
                BenefitGranted,
                {
                    **_common(v, municipality),
                    "benefit_kind": BENEFIT_KINDS.get(v.get("PabalstaVeids", "")),
                    "benefit_name": v.get("PabalstaNosaukums"),
                    "period_from": v.get("PeriodsNo"),
                    "period_to": v.get("PeriodsLidz"),
                    "amount": v.get("SummaEUR"),
                },
                at=at,
                fields=BENEFIT_FIELDS,
                source=item,
            )
    if (group := child(package, NS, "Statusi")) is not None:
        for at, item in indexed_children(group, NS, "Statuss", f"{root}/Statusi"):
            v = texts_within(item, NS)
            records.add(
                HouseholdStatusDecision,
                {
                    **_common(v, municipality),
                    "status": STATUSES.get(v.get("StatusaVeids", "")),
                    "valid_from": v.get("DerigsNo"),
                    "valid_to": v.get("DerigsLidz"),
                    "household_size": v.get("MajsaimniecibasLocekli"),
                    "income_per_member": v.get("IenakumiUzLocekliEUR"),
                },
                at=at,
                fields=STATUS_FIELDS,
                source=item,
            )
    if (group := child(package, NS, "Pakalpojumi")) is not None:
        for at, item in indexed_children(group, NS, "Pakalpojums", f"{root}/Pakalpojumi"):
            v = texts_within(item, NS)
            records.add(
                SocialServiceProvided,
                {
                    **_common(v, municipality),
                    "service_code": SERVICES.get(v.get("PakalpojumaVeids", "")),
                    "provider_register_no": v.get("RegistraNr"),
                    "provider_name": v.get("Nosaukums"),
                    "period_from": v.get("PeriodsNo"),
                    "period_to": v.get("PeriodsLidz"),
                    "funding": FUNDING.get(v.get("Finansejums", "")),
                    "cost": v.get("IzmaksasEUR"),
                },
                at=at,
                fields=SERVICE_FIELDS,
                source=item,
            )
    return records.result()


# -- canonical -> SOPA (what the SOPA simulator sends) -----------------------------------------


def _invert(mapping: dict[str, str]) -> dict[str, str]:
    return {value: key for key, value in mapping.items()}


_BENEFIT_CODES = _invert(BENEFIT_KINDS)
_STATUS_CODES = _invert(STATUSES)
_SERVICE_CODES = _invert(SERVICES)
_FUNDING_CODES = _invert(FUNDING)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _decision(parent: etree._Element, record: CanonicalRecord) -> None:
    sub(parent, NS, "IerakstaId", record.record_id)
    sub(parent, NS, "PersonasKods", record.person_code)
    decision = sub(parent, NS, "Lemums")
    sub(decision, NS, "Numurs", record.decision_number)
    sub(decision, NS, "Datums", record.decision_date.isoformat())
    sub(decision, NS, "PienemsanasLaiks", record.decided_at.isoformat())


def from_canonical(records: Sequence[CanonicalRecord], municipality: Municipality, package_id: str) -> etree._Element:
    package = etree.Element(DATA_PACKAGE, nsmap={"sopa": NS})
    sub(package, NS, "PaketesId", package_id)
    place = sub(package, NS, "Pasvaldiba")
    sub(place, NS, "AtvkKods", municipality.atvk)
    sub(place, NS, "Nosaukums", municipality.name)

    benefits = [r for r in records if isinstance(r, BenefitGranted)]
    statuses = [r for r in records if isinstance(r, HouseholdStatusDecision)]
    services = [r for r in records if isinstance(r, SocialServiceProvided)]
    if benefits:
        group = sub(package, NS, "Pabalsti")
        for b in benefits:
            item = sub(group, NS, "Pabalsts")
            _decision(item, b)
            sub(item, NS, "PabalstaVeids", _BENEFIT_CODES[b.benefit_kind])
            if b.benefit_name:
                sub(item, NS, "PabalstaNosaukums", b.benefit_name)
            sub(item, NS, "PeriodsNo", b.period_from.isoformat())
            sub(item, NS, "PeriodsLidz", b.period_to.isoformat())
            sub(item, NS, "SummaEUR", _money(b.amount))
    if statuses:
        group = sub(package, NS, "Statusi")
        for s in statuses:
            item = sub(group, NS, "Statuss")
            _decision(item, s)
            sub(item, NS, "StatusaVeids", _STATUS_CODES[s.status])
            sub(item, NS, "DerigsNo", s.valid_from.isoformat())
            sub(item, NS, "DerigsLidz", s.valid_to.isoformat())
            sub(item, NS, "MajsaimniecibasLocekli", s.household_size)
            sub(item, NS, "IenakumiUzLocekliEUR", _money(s.income_per_member))
    if services:
        group = sub(package, NS, "Pakalpojumi")
        for p in services:
            item = sub(group, NS, "Pakalpojums")
            _decision(item, p)
            sub(item, NS, "PakalpojumaVeids", _SERVICE_CODES[p.service_code])
            provider = sub(item, NS, "Sniedzejs")
            sub(provider, NS, "RegistraNr", p.provider_register_no)
            sub(provider, NS, "Nosaukums", p.provider_name)
            sub(item, NS, "PeriodsNo", p.period_from.isoformat())
            if p.period_to:
                sub(item, NS, "PeriodsLidz", p.period_to.isoformat())
            sub(item, NS, "Finansejums", _FUNDING_CODES[p.funding])
            if p.cost is not None:
                sub(item, NS, "IzmaksasEUR", _money(p.cost))
    return package
