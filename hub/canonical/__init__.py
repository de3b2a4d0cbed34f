"""The canonical model: the one language every adapter translates to and from."""

from hub.canonical.records import (
    RECORD_TYPES,
    BenefitGranted,
    CanonicalRecord,
    HouseholdStatusDecision,
    Municipality,
    SocialServiceProvided,
    record_from_payload,
)
from hub.canonical.types import Money, PersonCode, RuleViolation

__all__ = [
    "RECORD_TYPES",
    "BenefitGranted",
    "CanonicalRecord",
    "HouseholdStatusDecision",
    "Money",
    "Municipality",
    "PersonCode",
    "RuleViolation",
    "SocialServiceProvided",
    "record_from_payload",
]
