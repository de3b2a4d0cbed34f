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


def record_from_payload(type_: str, payload: dict[str, object]) -> CanonicalRecord:
    """Rebuild a record from an envelope payload; an unknown type is a permanent error."""
    try:
        cls = RECORD_TYPES[type_]
    except KeyError:
        raise LookupError(f"unknown canonical record type {type_!r}") from None
    return cls.model_validate(payload)
