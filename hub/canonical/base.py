"""What every canonical record shares.

A record is one fact a source system states; it becomes one message. `decided_at` is the source's
own time of this version of the fact: targets keep the latest version by it, so an earlier
decision arriving late never replaces a later one.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.canonical.types import AtvkCode, PersonCode, RecordId, RuleViolation, Text


class Municipality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    atvk: AtvkCode
    name: Text


class CanonicalRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    CORRECTIONS_NOTED: ClassVar[bool] = False
    """When true, the hub counts versions of the same record id from a source and tells the sender
    that a second one is a correction (monthly reports)."""

    record_id: RecordId = Field(description="the source system's own key of the record")
    decided_at: AwareDatetime

    @staticmethod
    def _check_period(start: dt.date, end: dt.date | None, *, field: str) -> None:
        if end is not None and end < start:
            raise RuleViolation("period-order", f"the end date is before the start date {start}", field=field)


class PersonRecord(CanonicalRecord):
    """A decision about one person."""

    person_code: PersonCode
    decision_number: Text
    decision_date: dt.date


class MunicipalRecord(PersonRecord):
    """A decision about one person taken in (or for) a municipality."""

    municipality: Municipality
