"""Canonical records to SPOLIS's `Ieraksts`, built with lxml.

On the bulk path lxml builds, validates and serialises a record in less time than zeep takes to
build and serialise it without validating (`python -m bench` measures both in one run).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from hub.canonical import (
    AssistantOpinion,
    AssistantService,
    BenefitGranted,
    CanonicalRecord,
    HouseholdStatusDecision,
    MonthlyReport,
    PersonRecord,
    SocialServiceProvided,
)
from hub.envelope import Envelope
from hub.xml.fields import Field, Table, group
from hub.xml.read import sub

NS = "urn:lv:lm:spolis:ielade:v1"
SUBMIT = f"{{{NS}}}IesniegtIerakstus"
RECORD = f"{{{NS}}}Ieraksts"
ANSWER = f"{{{NS}}}IesniegtIerakstusAtbilde"


def _period(element: str, start: str, end: str) -> tuple[Field, ...]:
    return group(element, Field(start, "@no"), Field(end, "@lidz"))


# The SPOLIS schema's parts, shared by what the hub delivers and the formats municipalities send
# through it (adapters.spolis.services).
PLACE = Table(NS, Field("atvk", "@atvk"), Field("name", "@nosaukums"))
MUNICIPALITY = Field("municipality", "Pasvaldiba", table=PLACE)
PERSON = Field("person_code", "PersonasKods")
DECISION = group(
    "Lemums",
    Field("decision_number", "@numurs"),
    Field("decision_date", "@datums"),
    Field("decided_at", "@laiks"),
)
CONTRACT = group("Ligums", Field("contract_number", "@numurs"), Field("contract_date", "@datums"))
PERIOD = _period("Periods", "period_from", "period_to")
VALIDITY = _period("Derigums", "valid_from", "valid_to")
HOURS = Field("hours", "Stundas", read=Decimal)
OPINION_ID = Field("vdeavk_opinion_id", "VdeavkAtzinumaId")
MONTHLY_REPORT = (
    Field("year", "Gads"),
    Field("month", "Menesis"),
    Field("decided_at", "Sagatavots"),
    Field("needy_households", "TrucigasMajsaimniecibas"),
    Field("needy_persons", "TrucigasPersonas"),
    Field("low_income_households", "MaznodrosinatasMajsaimniecibas"),
    Field("low_income_persons", "MaznodrosinatasPersonas"),
    Field("households_total", "MajsaimniecibasKopa"),
    Field("gmi_recipients", "GMISanemeji"),
    Field("gmi_paid", "GMIIzmaksatsEUR"),
    Field("housing_recipients", "MajoklaPabalstaSanemeji"),
    Field("housing_paid", "MajoklaPabalstsIzmaksatsEUR"),
    Field("other_recipients", "CituPabalstuSanemeji"),
    Field("other_paid", "CitiPabalstiIzmaksatsEUR"),
    Field("benefits_paid_total", "PabalstiKopaEUR"),
)
"""The monthly report's fields, as municipalities send it and as SPOLIS takes it."""

# an `Ieraksts` names the person and the decision of a record about a person, the municipality where there is one
PERSON_HEAD = Table(NS, PERSON, MUNICIPALITY, *DECISION)
PLACE_HEAD = Table(NS, MUNICIPALITY)
# record model -> (body element, its table)
BODIES: dict[type[CanonicalRecord], tuple[str, Table]] = {
    BenefitGranted: (
        "Pabalsts",
        Table(
            NS,
            Field("benefit_kind", "Veids"),
            Field("benefit_name", "Nosaukums"),
            *PERIOD,
            Field("amount", "SummaEUR"),
        ),
    ),
    HouseholdStatusDecision: (
        "MajsaimniecibasStatuss",
        Table(
            NS,
            Field("status", "Statuss"),
            *VALIDITY,
            Field("household_size", "Locekli"),
            Field("income_per_member", "IenakumiUzLocekliEUR"),
        ),
    ),
    SocialServiceProvided: (
        "SocialaisPakalpojums",
        Table(
            NS,
            Field("service_code", "PakalpojumaKods"),
            *group("Sniedzejs", Field("provider_register_no", "@registraNr"), Field("provider_name", "@nosaukums")),
            *PERIOD,
            Field("funding", "Finansejums"),
            Field("cost", "IzmaksasEUR"),
        ),
    ),
    AssistantService: (
        "AsistentaPakalpojums",
        Table(
            NS,
            *CONTRACT,
            *PERIOD,
            HOURS,
            Field("hourly_rate", "StundasLikmeEUR"),
            Field("state_funding", "ValstsFinansejumsEUR"),
            OPINION_ID,
        ),
    ),
    AssistantOpinion: (
        "VdeavkAtzinums",
        Table(
            NS,
            Field("needed", "AsistentsNepieciesams"),
            Field("hours_per_week", "StundasNedela"),
            *VALIDITY,
            Field("disability_group", "InvaliditatesGrupa"),
        ),
    ),
    MonthlyReport: ("MenesaParskats", Table(NS, Field("revision", "@versija"), *MONTHLY_REPORT)),
}


def record_element(record: CanonicalRecord, *, message_id: uuid.UUID, source: str, user_id: str) -> etree._Element:
    if type(record) not in BODIES:
        raise TypeError(f"SPOLIS takes no {type(record).__name__}")
    item = etree.Element(RECORD, nsmap={"sp": NS})
    sub(item, NS, "ZinojumaId", message_id)
    sub(item, NS, "AvotaSistema", source)
    sub(item, NS, "AvotaIerakstaId", record.record_id)
    sub(item, NS, "Lietotajs", user_id)
    (PERSON_HEAD if isinstance(record, PersonRecord) else PLACE_HEAD).write(item, record)
    name, body = BODIES[type(record)]
    body.write(sub(item, NS, name), record)
    return item


def from_envelope(envelope: Envelope) -> etree._Element:
    return record_element(
        envelope.record(),
        message_id=envelope.message_id,
        source=envelope.source,
        user_id=envelope.user_id,
    )


def submission(items: Sequence[etree._Element]) -> etree._Element:
    request = etree.Element(SUBMIT, nsmap={"sp": NS})
    request.extend(items)
    return request
