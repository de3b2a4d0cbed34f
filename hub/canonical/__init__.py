"""The canonical model: the one language every adapter translates to and from."""

from hub.canonical.base import CanonicalRecord, Municipality, MunicipalRecord, PersonRecord
from hub.canonical.disability import AssistantOpinion, AssistantService
from hub.canonical.employment import CooperationDuties, EmploymentProfiling, ServiceToUnemployed
from hub.canonical.queries import QUERY_TYPES, CanonicalQuery
from hub.canonical.records import RECORD_TYPES, record_from_payload
from hub.canonical.social_assistance import (
    BenefitGranted,
    HouseholdStatusDecision,
    MonthlyReport,
    SocialServiceProvided,
)
from hub.canonical.types import Money, PersonCode, RuleViolation

__all__ = [
    "QUERY_TYPES",
    "RECORD_TYPES",
    "AssistantOpinion",
    "AssistantService",
    "BenefitGranted",
    "CanonicalQuery",
    "CanonicalRecord",
    "CooperationDuties",
    "EmploymentProfiling",
    "HouseholdStatusDecision",
    "Money",
    "MonthlyReport",
    "MunicipalRecord",
    "Municipality",
    "PersonCode",
    "PersonRecord",
    "RuleViolation",
    "ServiceToUnemployed",
    "SocialServiceProvided",
    "record_from_payload",
]
