"""The canonical model refuses what the law and the brief rule out, naming the rule."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum import exceptions as stdnum_errors
from stdnum.lv import pvn

from hub.canonical import BenefitGranted, HouseholdStatusDecision, record_from_payload
from hub.simulation.people import person_code, with_wrong_check_digit
from tests.helpers import RIGA, examples


def benefit(**changes):
    values = dict(
        record_id="SOPA-PAB-1",
        person_code=person_code(random.Random(3)),
        municipality=RIGA,
        decision_number="RSD-2026/1",
        decision_date=dt.date(2026, 10, 1),
        decided_at=dt.datetime(2026, 10, 1, 10, 15, tzinfo=dt.UTC),
        benefit_kind="gmi",
        period_from=dt.date(2026, 11, 1),
        period_to=dt.date(2026, 11, 30),
        amount=Decimal("125.00"),
    )
    values.update(changes)
    return BenefitGranted(**values)


def rules(exc: ValidationError) -> set[str]:
    return {getattr(e["ctx"]["error"], "rule", None) if "ctx" in e else e["type"] for e in exc.errors()}


def test_generated_person_codes_pass_both_formats():
    rng = random.Random(0)
    codes = [person_code(rng) for _ in range(500)]
    assert any(c.startswith("32") for c in codes) and any(not c.startswith("32") for c in codes)
    for code in codes:
        assert benefit(person_code=code).person_code == code


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        (with_wrong_check_digit(person_code(random.Random(5))), "person-code-checksum"),
        ("311399-12345", "person-code-date"),
        ("12345612345", "person-code-format"),
        ("40003521600", "person-code-format"),
        ("912345-12345", "person-code-format"),
        ("010190-1234\u0665", "person-code-format"),  # an Arabic-Indic five is a digit to Python, not to the code
    ],
)
def test_bad_person_codes_name_their_rule(code, rule):
    with pytest.raises(ValidationError) as caught:
        benefit(person_code=code)
    assert rules(caught.value) == {rule}


_STDNUM_RULES = {
    stdnum_errors.InvalidChecksum: "person-code-checksum",
    stdnum_errors.InvalidComponent: "person-code-date",
}


@settings(max_examples=examples(1500), deadline=None)
@given(
    st.one_of(
        st.from_regex(r"\A[0-3][0-9]{10}\Z"),
        st.from_regex(r"\A32[0-9]{9}\Z"),
        st.builds(lambda rng: person_code(rng).replace("-", ""), st.randoms(use_true_random=False)),
    )
)
def test_person_codes_are_judged_as_python_stdnum_judges_them(digits):
    """python-stdnum, an independent implementation, as the reference for check digit and date."""
    try:
        pvn.validate(digits)
        expected = None
    except stdnum_errors.ValidationError as exc:
        expected = _STDNUM_RULES[type(exc)]
    code = f"{digits[:6]}-{digits[6:]}"
    try:
        benefit(person_code=code)
        found = None
    except ValidationError as exc:
        (found,) = rules(exc)
    assert found == expected


def test_money_is_decimal_never_negative_two_decimals():
    assert benefit(amount="12.5").amount == Decimal("12.50")
    for value, rule in (
        (Decimal("-1.00"), "money-not-negative"),
        (Decimal("1.005"), "money-two-decimals"),
        (12.5, "money-decimal"),
    ):
        with pytest.raises(ValidationError) as caught:
            benefit(amount=value)
        assert rules(caught.value) == {rule}


def test_period_must_not_end_before_it_starts():
    with pytest.raises(ValidationError) as caught:
        benefit(period_to=dt.date(2026, 10, 1))
    assert rules(caught.value) == {"period-order"}


def test_other_municipal_benefit_needs_a_name():
    with pytest.raises(ValidationError) as caught:
        benefit(benefit_kind="municipal_other")
    assert rules(caught.value) == {"benefit-name-required"}
    assert benefit(benefit_kind="municipal_other", benefit_name="Pabalsts krīzes situācijā").benefit_name


def test_decision_time_needs_its_offset():
    with pytest.raises(ValidationError):
        benefit(decided_at=dt.datetime(2026, 10, 1, 10, 15))


def test_payload_round_trip_keeps_decimals_exact():
    original = benefit(amount=Decimal("0.10"))
    payload = original.model_dump(mode="json")
    assert payload["amount"] == "0.10"
    assert record_from_payload(original.TYPE, payload) == original


def test_unknown_type_is_refused():
    with pytest.raises(LookupError):
        record_from_payload("nobody.knows.v1", {})


def test_household_status_validity_and_size():
    with pytest.raises(ValidationError):
        HouseholdStatusDecision(
            **benefit().model_dump(
                include={"record_id", "person_code", "municipality", "decision_number", "decision_date", "decided_at"}
            ),
            status="needy",
            valid_from=dt.date(2026, 1, 1),
            valid_to=dt.date(2026, 6, 30),
            household_size=0,
            income_per_member=Decimal("50.00"),
        )


def test_a_record_id_longer_than_the_status_store_holds_is_refused_naming_the_field():
    assert benefit(record_id="R" * 200).record_id == "R" * 200
    with pytest.raises(ValidationError) as caught:
        benefit(record_id="R" * 201)
    (error,) = caught.value.errors()
    assert error["loc"] == ("record_id",) and error["type"] == "string_too_long"
