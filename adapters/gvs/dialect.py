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
from hub.xml.fields import SELF, Field, Table, group
from hub.xml.read import child, indexed_children, sub

NS = "urn:lv:lm:gvs:eksports:v1"

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


def cents_to_eur(cents: str | None) -> Decimal | None:
    return Decimal(int(cents)).scaleb(-2) if cents else None


def _cents(value: Decimal) -> str:
    return str(int(value * 100))


def _cents_field(name: str, path: str) -> Field:
    return Field(name, path, read=cents_to_eur, write=_cents)


def _dates(start: str, end: str) -> tuple[Field, Field]:
    return Field(start, "No"), Field(end, "Lidz")


PLACE = Table(NS, Field("atvk", "@atvk"), Field("name", "@pasvaldiba"))
CLIENT = Table(NS, Field("person_code", "@pk"))
"""The person's code, once per `Klients` for all of that person's records."""
_ID = Field("record_id", "@id")
_DECISION = group("Lem", Field("decision_number", "@nr"), Field("decision_date", "@dat"), Field("decided_at", "@laiks"))
_PERIOD = _dates("period_from", "period_to")
BENEFIT = Table(
    NS,
    _ID,
    Field("benefit_kind", "@veids", codes=BENEFIT_KINDS),
    Field("benefit_name", "@nosaukums"),
    *_DECISION,
    *_PERIOD,
    _cents_field("amount", "SummaCenti"),
)
STATUS = Table(
    NS,
    _ID,
    Field("status", "@veids", codes=STATUSES),
    Field("household_size", "@locekli"),
    *_DECISION,
    *_dates("valid_from", "valid_to"),
    _cents_field("income_per_member", "IenakumiCenti"),
)
SERVICE = Table(
    NS,
    _ID,
    Field("service_code", "@kods", codes=SERVICES),
    Field("funding", "@fin", codes=FUNDING),
    *_DECISION,
    *group("Sniedzejs", Field("provider_register_no", "@regNr"), Field("provider_name", SELF)),
    *_PERIOD,
    _cents_field("cost", "IzmaksasCenti"),
)
# (model, record element, table), in a client's order
KINDS = (
    (BenefitGranted, "Pabalsts", BENEFIT),
    (HouseholdStatusDecision, "Statuss", STATUS),
    (SocialServiceProvided, "Pakalpojums", SERVICE),
)
_ROOT, _EXPORT_ID, _PLACE, _CLIENT = "Eksports", "eksportaId", "Iestade", "Klients"
EXPORT = f"{{{NS}}}{_ROOT}"


def to_canonical(export: etree._Element) -> list[Parsed]:
    municipality = PLACE.read(child(export, NS, _PLACE))
    records = RecordCollector()
    for client_at, client in indexed_children(export, NS, _CLIENT, _ROOT):
        person = CLIENT.read(client)
        person_paths = {field: f"/{client_at}/{path}" for field, path in CLIENT.paths.items()}
        for model, name, table in KINDS:
            fields = table.paths | person_paths
            for at, item in indexed_children(client, NS, name, client_at):
                values = table.read(item)
                values.update(person, municipality=municipality)
                records.add(model, values, at=at, fields=fields, source=item)
    return records.result()


def from_canonical(records: Sequence[CanonicalRecord], municipality: Municipality, export_id: str) -> etree._Element:
    """What the GVS simulator sends: each person's records in one `Klients`."""
    export = etree.Element(EXPORT, {_EXPORT_ID: export_id}, nsmap={"gvs": NS})
    PLACE.write(sub(export, NS, _PLACE), municipality)
    by_person: dict[str, list[CanonicalRecord]] = {}
    for record in records:
        by_person.setdefault(record.person_code, []).append(record)
    for own in by_person.values():
        client = CLIENT.write(sub(export, NS, _CLIENT), own[0])
        for model, name, table in KINDS:
            for record in own:
                if isinstance(record, model):
                    table.write(sub(client, NS, name), record)
    return export
