"""Social assistance: what municipalities decided and provided (flow F1) and their monthly report (F8)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from hub.canonical.base import CanonicalRecord, Municipality, MunicipalRecord
from hub.canonical.types import Money, ProviderRegisterNo, RuleViolation, Text


class BenefitGranted(MunicipalRecord):
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


class HouseholdStatusDecision(MunicipalRecord):
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


class SocialServiceProvided(MunicipalRecord):
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


class MonthlyReport(CanonicalRecord):
    """ "Pārskats par sociālās palīdzības sniegšanu pašvaldībā": one municipality, one month.

    Totals must equal the sum of their parts. A second report for the same month is a correction;
    the hub says so in the receipt and the target keeps the latest (`decided_at`).
    """

    TYPE: ClassVar[str] = "social_assistance.monthly_report.v1"
    CORRECTIONS_NOTED: ClassVar[bool] = True

    municipality: Municipality
    year: int = Field(ge=2009, le=2100)
    month: int = Field(ge=1, le=12)
    needy_households: int = Field(ge=0)
    needy_persons: int = Field(ge=0)
    low_income_households: int = Field(ge=0)
    low_income_persons: int = Field(ge=0)
    households_total: int = Field(ge=0)
    gmi_recipients: int = Field(ge=0)
    gmi_paid: Money
    housing_recipients: int = Field(ge=0)
    housing_paid: Money
    other_recipients: int = Field(ge=0)
    other_paid: Money
    benefits_paid_total: Money
    revision: int = Field(1, ge=1, description="1 for the first report of the month; more for corrections")

    @model_validator(mode="after")
    def _consistent(self) -> MonthlyReport:
        if self.households_total != self.needy_households + self.low_income_households:
            raise RuleViolation(
                "total-equals-sum",
                f"households_total {self.households_total} is not needy + low-income households "
                f"({self.needy_households} + {self.low_income_households})",
                field="households_total",
            )
        parts = self.gmi_paid + self.housing_paid + self.other_paid
        if self.benefits_paid_total != parts:
            raise RuleViolation(
                "total-equals-sum",
                f"benefits_paid_total {self.benefits_paid_total} is not GMI + housing + other ({parts})",
                field="benefits_paid_total",
            )
        for persons, households, name in (
            (self.needy_persons, self.needy_households, "needy_persons"),
            (self.low_income_persons, self.low_income_households, "low_income_persons"),
        ):
            if persons < households:
                raise RuleViolation("persons-at-least-households", f"{name} is below its households", field=name)
        if (self.year, self.month) > (dt.date.today().year, dt.date.today().month):
            raise RuleViolation("month-not-future", "a report cannot be for a month to come", field="month")
        return self
