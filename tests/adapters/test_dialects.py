"""Each municipal dialect: canonical -> dialect XML -> schema-valid -> canonical gives the same
records, and bad input is refused with the dialect's own field path and the rule."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from lxml import etree

from adapters.gvs import dialect as gvs
from adapters.lietis import dialect as lietis
from adapters.sopa import dialect as sopa
from hub.canonical import BenefitGranted, HouseholdStatusDecision, Municipality, SocialServiceProvided
from hub.errors import ValidationFailed
from hub.settings import PROJECT_ROOT
from hub.simulation.people import with_wrong_check_digit
from hub.simulation.records import RecordFactory
from hub.xml.schema import Schema

PLACE = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
DIALECTS = {
    "sopa": (sopa, "sopa/sopa-v1.xsd"),
    "lietis": (lietis, "lietis/lietis-v1.xsd"),
    "gvs": (gvs, "gvs/gvs-v1.xsd"),
}


def factory(seed: int = 11) -> RecordFactory:
    return RecordFactory(municipality=PLACE, record_prefix="T", decision_prefix="TSD", rng=random.Random(seed))


def schema(system: str) -> Schema:
    return Schema(PROJECT_ROOT / "schemas" / DIALECTS[system][1])


def key(record) -> str:
    return record.record_id


@pytest.mark.parametrize("system", DIALECTS)
@pytest.mark.parametrize(
    "make",
    [RecordFactory.benefit, RecordFactory.household_status, RecordFactory.social_service],
    ids=["benefit", "household_status", "social_service"],
)
def test_each_record_kind_round_trips(system: str, make: Callable):
    module, _ = DIALECTS[system]
    f = factory()
    records = [make(f) for _ in range(5)]
    body = module.from_canonical(records, PLACE, "LOAD-1")
    assert schema(system).errors(body) == []
    back = [p.record for p in module.to_canonical(etree.fromstring(etree.tostring(body)))]
    assert sorted(back, key=key) == sorted(records, key=key)


@pytest.mark.parametrize("system", DIALECTS)
def test_a_mixed_load_of_many_records_round_trips(system: str):
    module, _ = DIALECTS[system]
    records = factory(5).batch(300)
    assert {type(r) for r in records} == {BenefitGranted, HouseholdStatusDecision, SocialServiceProvided}
    body = module.from_canonical(records, PLACE, "LOAD-2")
    assert schema(system).errors(body) == []
    parsed = module.to_canonical(body)
    assert sorted((p.record for p in parsed), key=key) == sorted(records, key=key)
    for p in parsed:
        assert p.record.record_id in etree.tostring(p.source).decode(), "the source element is the record's own"


def mapped_errors(system: str, body: etree._Element) -> set[tuple[str, str]]:
    module, _ = DIALECTS[system]
    errors = schema(system).errors(body)
    if not errors:
        with pytest.raises(ValidationFailed) as caught:
            module.to_canonical(body)
        errors = caught.value.errors
    return {(e.field, e.rule) for e in errors}


def one_benefit(system: str) -> etree._Element:
    module, _ = DIALECTS[system]
    f = factory(21)
    return module.from_canonical([f.household_status(), f.benefit()], PLACE, "LOAD-3")


# (element holding the benefit's person code, its attribute, which occurrence, the expected field)
BAD_PERSON_CODE = {
    "sopa": ("{urn:lv:riga:sopa:spolis:v1}PersonasKods", None, 0, "DatuPakete/Pabalsti/Pabalsts/PersonasKods"),
    "lietis": ("{urn:lv:daugavpils:lietis:exchange:v1}Client", "personCode", -1, "DataLoad/Benefit/Client/@personCode"),
    "gvs": ("{urn:lv:lm:gvs:eksports:v1}Klients", "pk", -1, "Eksports/Klients[2]/@pk"),
}


@pytest.mark.parametrize("system", DIALECTS)
def test_wrong_check_digit_names_the_field(system: str):
    body = one_benefit(system)
    tag, attribute, occurrence, field = BAD_PERSON_CODE[system]
    element = list(body.iter(tag))[occurrence]
    if attribute:
        element.set(attribute, with_wrong_check_digit(element.get(attribute)))
    else:
        element.text = with_wrong_check_digit(element.text)
    assert mapped_errors(system, body) == {(field, "person-code-checksum")}


AMOUNT = {
    "sopa": ("{urn:lv:riga:sopa:spolis:v1}SummaEUR", "-10.00", "DatuPakete/Pabalsti/Pabalsts/SummaEUR", "minInclusive"),
    "lietis": ("{urn:lv:daugavpils:lietis:exchange:v1}Amount", "-10.00", "DataLoad/Benefit/Amount", "minInclusive"),
    "gvs": (
        "{urn:lv:lm:gvs:eksports:v1}SummaCenti",
        "-1000",
        "Eksports/Klients[2]/Pabalsts/SummaCenti",
        "minInclusive",
    ),
}


@pytest.mark.parametrize("system", DIALECTS)
def test_negative_amount_names_the_field(system: str):
    body = one_benefit(system)
    tag, value, field, rule = AMOUNT[system]
    next(body.iter(tag)).text = value
    assert mapped_errors(system, body) == {(field, rule)}


MISSING = {
    "sopa": ("{urn:lv:riga:sopa:spolis:v1}PeriodsLidz", "DatuPakete/Pabalsti/Pabalsts/PeriodsLidz"),
    "lietis": ("{urn:lv:daugavpils:lietis:exchange:v1}Amount", "DataLoad/Benefit/Amount"),
    "gvs": ("{urn:lv:lm:gvs:eksports:v1}SummaCenti", "Eksports/Klients[2]/Pabalsts/SummaCenti"),
}


@pytest.mark.parametrize("system", DIALECTS)
def test_missing_field_is_named(system: str):
    body = one_benefit(system)
    tag, field = MISSING[system]
    element = next(body.iter(tag))
    element.getparent().remove(element)
    assert mapped_errors(system, body) == {(field, "required")}


@pytest.mark.parametrize("system", DIALECTS)
def test_wrong_namespace_fails_the_schema(system: str):
    body = one_benefit(system)
    for element in body.iter():
        qname = etree.QName(element)
        element.tag = f"{{urn:example:wrong}}{qname.localname}"
    errors = schema(system).errors(body)
    assert errors and errors[0].rule == "unknown-element"


def test_gvs_cents_become_exact_euros():
    assert gvs.cents_to_eur("12345") == gvs.cents_to_eur("12345") and str(gvs.cents_to_eur("12345")) == "123.45"
    assert str(gvs.cents_to_eur("0")) == "0.00"


def test_period_order_is_reported_on_the_end_date():
    f = factory(8)
    body = sopa.from_canonical([f.benefit()], PLACE, "LOAD-4")
    start = next(body.iter("{urn:lv:riga:sopa:spolis:v1}PeriodsNo")).text
    next(body.iter("{urn:lv:riga:sopa:spolis:v1}PeriodsLidz")).text = "2000-01-01"
    assert start > "2000-01-01"
    assert mapped_errors("sopa", body) == {("DatuPakete/Pabalsti/Pabalsts/PeriodsLidz", "period-order")}
