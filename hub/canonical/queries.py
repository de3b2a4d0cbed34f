"""Canonical per-person queries and their answers (flows F4 and F5).

A query names one person and, where the service needs it, a period. Its answer is a model of its
own; both travel as JSON on the broker, never as the state system's XML.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.canonical.types import Money, PersonCode, RuleViolation, Text

MAX_QUERY_DAYS = 366 * 3


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CanonicalQuery(BaseModel):
    """One question about one person; the end user and the purpose travel in the envelope and header."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    ANSWER: ClassVar[type[Answer]]

    person_code: PersonCode
    purpose: Text | None = Field(None, description="why the end user asks; set from the request header")


class PeriodQuery(CanonicalQuery):
    period_from: dt.date
    period_to: dt.date

    @model_validator(mode="after")
    def _period(self) -> PeriodQuery:
        if self.period_to < self.period_from:
            raise RuleViolation("period-order", "the period ends before it starts", field="period_to")
        if (self.period_to - self.period_from).days > MAX_QUERY_DAYS:
            raise RuleViolation("period-length", "a query may cover at most three years", field="period_to")
        return self


# -- VSAA e-services EP50, EP51, EP52 ----------------------------------------------------------------

BenefitKind = Literal[
    "old_age_pension",
    "disability_pension",
    "survivor_pension",
    "unemployment_benefit",
    "sickness_benefit",
    "parental_benefit",
    "state_social_security_benefit",
]


class Deduction(Answer):
    month: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    benefit: BenefitKind
    kind: Literal["maintenance_guarantee", "court_ruling", "overpayment", "tax"]
    amount: Money


class DeductionsAnswer(Answer):
    deductions: list[Deduction]


class DeductionsQuery(PeriodQuery):
    """EP50: deductions made from paid pensions, benefits or compensations."""

    TYPE: ClassVar[str] = "vsaa.ep50.v1"
    ANSWER: ClassVar[type[Answer]] = DeductionsAnswer


class GrantedBenefit(Answer):
    benefit: BenefitKind
    granted_from: dt.date
    granted_to: dt.date | None = None
    monthly_amount: Money


class GrantedBenefitsAnswer(Answer):
    benefits: list[GrantedBenefit]


class GrantedBenefitsQuery(CanonicalQuery):
    """EP51: the amount of pensions, benefits or compensations granted, as of a date."""

    TYPE: ClassVar[str] = "vsaa.ep51.v1"
    ANSWER: ClassVar[type[Answer]] = GrantedBenefitsAnswer

    as_of: dt.date


class Payment(Answer):
    month: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    benefit: BenefitKind
    amount: Money
    sent_on: dt.date


class PaymentsAnswer(Answer):
    payments: list[Payment]


class PaymentsQuery(PeriodQuery):
    """EP52: pensions, benefits or compensations sent for payment."""

    TYPE: ClassVar[str] = "vsaa.ep52.v1"
    ANSWER: ClassVar[type[Answer]] = PaymentsAnswer


# -- VDEĀVK GetUniversalServiceDataIS --------------------------------------------------------------

Impairment = Literal["mobility", "vision", "hearing", "mental", "intellectual", "internal_organs", "other"]


class OpinionSummary(Answer):
    opinion_id: Text
    issued_on: dt.date
    needed: bool
    hours_per_week: int | None = Field(None, ge=1, le=168)


class DisabilityAnswer(Answer):
    found: bool
    disability_group: Literal["1", "2", "3"] | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    impairments: list[Impairment] = []
    assistant_opinion: OpinionSummary | None = None


class DisabilityQuery(CanonicalQuery):
    """GetUniversalServiceDataIS: disability group and validity, impairment, opinion on an assistant."""

    TYPE: ClassVar[str] = "vdeavk.universal_service_data.v1"
    ANSWER: ClassVar[type[Answer]] = DisabilityAnswer


QUERY_TYPES: dict[str, type[CanonicalQuery]] = {
    cls.TYPE: cls for cls in (DeductionsQuery, GrantedBenefitsQuery, PaymentsQuery, DisabilityQuery)
}
