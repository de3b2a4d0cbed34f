"""The registry of canonical record types: the type names on the broker, and back to models."""

from __future__ import annotations

from hub.canonical.base import CanonicalRecord
from hub.canonical.disability import AssistantOpinion, AssistantService
from hub.canonical.employment import CooperationDuties, EmploymentProfiling
from hub.canonical.social_assistance import (
    BenefitGranted,
    HouseholdStatusDecision,
    MonthlyReport,
    SocialServiceProvided,
)
from hub.canonical.types import CHECKED

RECORD_TYPES: dict[str, type[CanonicalRecord]] = {
    cls.TYPE: cls
    for cls in (
        BenefitGranted,
        HouseholdStatusDecision,
        SocialServiceProvided,
        MonthlyReport,
        AssistantService,
        AssistantOpinion,
        EmploymentProfiling,
        CooperationDuties,
    )
}


def record_from_payload(type_: str, payload: dict[str, object], *, checked: bool = False) -> CanonicalRecord:
    """Rebuild a record from a payload; an unknown type is a permanent error. `checked`: the payload
    comes from an envelope the hub made (and sealed) after checking it whole, so the costliest rule
    checks are not run again; anything from outside (an operator's edit) is checked in full."""
    try:
        cls = RECORD_TYPES[type_]
    except KeyError:
        raise LookupError(f"unknown canonical record type {type_!r}") from None
    return cls.model_validate(payload, context={CHECKED: True} if checked else None)
