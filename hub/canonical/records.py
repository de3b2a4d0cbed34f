"""Canonical records of flow F1: what municipalities decided and provided.

Every dialect maps to these, and every target maps from them; the hub never passes a
source's XML to a target. `decided_at` is the source's own time of the decision version:
targets keep the latest version of a record by it.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub.canonical.types import AtvkCode, Money, PersonCode, ProviderRegisterNo, RuleViolation, Text


class Municipality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    atvk: AtvkCode
    name: Text


class CanonicalRecord(BaseModel):
    """One record of a data load; becomes one message on the broker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]

    record_id: Text = Field(description="the source system's own key of the record")
    person_code: PersonCode
    municipality: Municipality
    decision_number: Text
    decision_date: dt.date
    decided_at: AwareDatetime

    @staticmethod
    def _check_period(start: dt.date, end: dt.date | None, *, field: str) -> None:
        if end is not None and end < start:
            raise RuleViolation("period-order", f"the end date is before the start date {start}", field=field)


class BenefitGranted(CanonicalRecord):
    """A social-assistance benefit granted: GMI benefit, housing benefit or another municipal one."""

    TYPE: ClassVar[str] = "social_assistance.benefit.v1"

    benefit_kind: Literal["gmi", "housing", "municipal_other"]
    benefit_name: Text | None = None
    period_from: dt.date
    period_to: dt.date
    amount: Money

    @model_validator(mode="after")
    def _rules(self) -> BenefitGranted:
        self._check_period(self.period_from, self.period_to, field="period_to")
        if self.benefit_kind == "municipal_other" and not self.benefit_name:
            raise RuleViolation(
                "benefit-name-required", "a municipal_other benefit needs its name", field="benefit_name"
            )
        return self


class HouseholdStatusDecision(CanonicalRecord):
    """A needy ("trūcīga") or low-income ("maznodrošināta") household status decision."""

    TYPE: ClassVar[str] = "social_assistance.household_status.v1"

    status: Literal["needy", "low_income"]
    valid_from: dt.date
    valid_to: dt.date
    household_size: int = Field(ge=1, le=30)
    income_per_member: Money

    @model_validator(mode="after")
    def _rules(self) -> HouseholdStatusDecision:
        self._check_period(self.valid_from, self.valid_to, field="valid_to")
        return self


ServiceCode = Literal[
    "long_term_care",
    "day_centre",
    "home_care",
    "night_shelter",
    "crisis_centre",
    "group_home",
    "rehabilitation",
    "family_support",
    "other",
]


class SocialServiceProvided(CanonicalRecord):
    """A social service provided to a person by a registered provider."""

    TYPE: ClassVar[str] = "social_assistance.social_service.v1"

    service_code: ServiceCode
    provider_register_no: ProviderRegisterNo
    provider_name: Text
    period_from: dt.date
    period_to: dt.date | None = None
    funding: Literal["state", "municipal", "mixed"]
    cost: Money | None = None

    @model_validator(mode="after")
    def _rules(self) -> SocialServiceProvided:
        self._check_period(self.period_from, self.period_to, field="period_to")
        return self


RECORD_TYPES: dict[str, type[CanonicalRecord]] = {
    cls.TYPE: cls for cls in (BenefitGranted, HouseholdStatusDecision, SocialServiceProvided)
}


def record_from_payload(type_: str, payload: dict[str, object]) -> CanonicalRecord:
    """Rebuild a record from an envelope payload; an unknown type is a permanent error."""
    try:
        cls = RECORD_TYPES[type_]
    except KeyError:
        raise LookupError(f"unknown canonical record type {type_!r}") from None
    return cls.model_validate(payload)
