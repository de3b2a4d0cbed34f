"""SOPA's `DatuPakete` to canonical records and back.

Records come grouped by kind (Pabalsti, Statusi, Pakalpojumi), the municipality once per package,
decisions as a nested `Lemums`; codes are Latvian upper-case words.
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
from hub.xml.read import child, indexed_children, sub

NS = "urn:lv:riga:sopa:spolis:v1"

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

PLACE = Table(NS, Field("atvk", "AtvkKods"), Field("name", "Nosaukums"))
_COMMON = (
    Field("record_id", "IerakstaId"),
    Field("person_code", "PersonasKods"),
    *group(
        "Lemums",
        Field("decision_number", "Numurs"),
        Field("decision_date", "Datums"),
        Field("decided_at", "PienemsanasLaiks"),
    ),
)
_PERIOD = (Field("period_from", "PeriodsNo"), Field("period_to", "PeriodsLidz"))
BENEFIT = Table(
    NS,
    *_COMMON,
    Field("benefit_kind", "PabalstaVeids", codes=BENEFIT_KINDS),
    Field("benefit_name", "PabalstaNosaukums"),
    *_PERIOD,
    Field("amount", "SummaEUR"),
)
STATUS = Table(
    NS,
    *_COMMON,
    Field("status", "StatusaVeids", codes=STATUSES),
    Field("valid_from", "DerigsNo"),
    Field("valid_to", "DerigsLidz"),
    Field("household_size", "MajsaimniecibasLocekli"),
    Field("income_per_member", "IenakumiUzLocekliEUR"),
)
SERVICE = Table(
    NS,
    *_COMMON,
    Field("service_code", "PakalpojumaVeids", codes=SERVICES),
    *group("Sniedzejs", Field("provider_register_no", "RegistraNr"), Field("provider_name", "Nosaukums")),
    *_PERIOD,
    Field("funding", "Finansejums", codes=FUNDING),
    Field("cost", "IzmaksasEUR"),
)
# (model, group element, record element, table), in the package's order
KINDS = (
    (BenefitGranted, "Pabalsti", "Pabalsts", BENEFIT),
    (HouseholdStatusDecision, "Statusi", "Statuss", STATUS),
    (SocialServiceProvided, "Pakalpojumi", "Pakalpojums", SERVICE),
)
_ROOT, _ID, _PLACE = "DatuPakete", "PaketesId", "Pasvaldiba"
DATA_PACKAGE = f"{{{NS}}}{_ROOT}"


def to_canonical(package: etree._Element) -> list[Parsed]:
    """`package` is schema-valid; what the schema cannot say (check digits, periods) is checked here.
    No record element of the schema shares its name with another in the same record (the decision's
    `Numurs`, the provider's `Nosaukums`), so each record's table reads it in one pass."""
    municipality = PLACE.read(child(package, NS, _PLACE))
    records = RecordCollector()
    for model, group_name, name, table in KINDS:
        if (group_element := child(package, NS, group_name)) is not None:
            for at, item in indexed_children(group_element, NS, name, f"{_ROOT}/{group_name}"):
                values = table.read(item)
                values["municipality"] = municipality
                records.add(model, values, at=at, fields=table.paths, source=item)
    return records.result()


def from_canonical(records: Sequence[CanonicalRecord], municipality: Municipality, package_id: str) -> etree._Element:
    """What the SOPA simulator sends."""
    package = etree.Element(DATA_PACKAGE, nsmap={"sopa": NS})
    sub(package, NS, _ID, package_id)
    PLACE.write(sub(package, NS, _PLACE), municipality)
    for model, group_name, name, table in KINDS:
        own = [r for r in records if isinstance(r, model)]
        if own:
            group_element = sub(package, NS, group_name)
            for record in own:
                table.write(sub(group_element, NS, name), record)
    return package
