"""Between NVA's BURVIS and the municipal social services: client profiling of the unemployed
(flow F6) and the cooperation duties a social service sets, with the services it provided (F7)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.canonical.base import MunicipalRecord
from hub.canonical.types import Text


class EmploymentProfiling(MunicipalRecord):
    """The profiling result of a person registered with NVA, for the social service of the
    municipality where the person lives (the hub routes it there by `municipality`)."""

    TYPE: ClassVar[str] = "employment.profiling.v1"

    status: Literal["unemployed", "job_seeker"]
    registered_on: dt.date
    profile: Literal["close_to_labour_market", "needs_support", "far_from_labour_market"]
    nva_branch: Text
    recommended_measures: list[Text] = Field(default_factory=list, max_length=10)


Duty = Literal[
    "register_with_nva",
    "attend_nva_consultations",
    "take_part_in_measures",
    "seek_work_actively",
    "health_assessment",
    "addiction_treatment",
    "other",
]


class ServiceToUnemployed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service: Literal["social_rehabilitation", "psychologist", "debt_counselling", "transport", "childcare", "other"]
    provided_on: dt.date


class CooperationDuties(MunicipalRecord):
    """ "Līdzdarbības pienākumi" a social service set for an unemployed person, and the services it
    provided to them."""

    TYPE: ClassVar[str] = "employment.cooperation_duties.v1"

    duties: list[Duty] = Field(min_length=1, max_length=10)
    valid_from: dt.date
    valid_to: dt.date
    services: list[ServiceToUnemployed] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _rules(self) -> CooperationDuties:
        self._check_period(self.valid_from, self.valid_to, field="valid_to")
        return self
