"""Assistant service for persons with disabilities (flow F2) and VDEĀVK's opinions on the need
for an assistant (flow F3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from hub.canonical.base import MunicipalRecord, PersonRecord
from hub.canonical.types import Money, RuleViolation, Text

Hours = Annotated[Decimal, Field(gt=0, le=744, decimal_places=2)]


class AssistantService(MunicipalRecord):
    """Hours of assistant service provided under a contract in one month, and the state funding
    due for them: hours times the hourly rate in force when the month starts (config/rates.toml)."""

    TYPE: ClassVar[str] = "disability.assistant_service.v1"

    contract_number: Text
    contract_date: dt.date
    period_from: dt.date
    period_to: dt.date
    hours: Hours
    hourly_rate: Money
    state_funding: Money
    vdeavk_opinion_id: Text

    @model_validator(mode="after")
    def _rules(self) -> AssistantService:
        self._check_period(self.period_from, self.period_to, field="period_to")
        if (self.period_from.year, self.period_from.month) != (self.period_to.year, self.period_to.month):
            raise RuleViolation("one-month", "assistant service is reported per calendar month", field="period_to")
        due = (self.hours * self.hourly_rate).quantize(Decimal("0.01"))
        if self.state_funding != due:
            raise RuleViolation(
                "funding-equals-hours-times-rate",
                f"state funding {self.state_funding} is not {self.hours} h x {self.hourly_rate} EUR = {due}",
                field="state_funding",
            )
        return self


class AssistantOpinion(PersonRecord):
    """VDEĀVK's opinion "on the need for an assistant service (municipalities)" for one person."""

    TYPE: ClassVar[str] = "disability.assistant_opinion.v1"

    needed: bool
    hours_per_week: int | None = Field(None, ge=1, le=168)
    valid_from: dt.date
    valid_to: dt.date | None = None
    disability_group: Literal["1", "2", "3"] | None = None

    @model_validator(mode="after")
    def _rules(self) -> AssistantOpinion:
        self._check_period(self.valid_from, self.valid_to, field="valid_to")
        if self.needed and self.hours_per_week is None:
            raise RuleViolation(
                "hours-required", "an opinion that an assistant is needed says how many hours", field="hours_per_week"
            )
        return self
