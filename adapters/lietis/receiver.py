"""LIETIS's intake of NVA client profiling (F6), as one table-told batch: the hub delivers by it and
LIETIS's simulator answers by it."""

from __future__ import annotations

from operator import attrgetter

from hub.canonical import EmploymentProfiling
from hub.soap.batch import TableBatch
from hub.xml.fields import Field, Table

NS = "urn:lv:daugavpils:lietis:nva:v1"
SERVICE_NS = "urn:lv:daugavpils:lietis:nva:service:v1"
INTAKE = f"{{{NS}}}ReceiveProfiles"
INTAKE_ANSWER = f"{{{NS}}}ReceiveProfilesResult"


_OUTCOMES = {"accepted": "delivered", "duplicate": "duplicate", "rejected": "rejected"}


def _hyphens(value: str) -> str:
    return value.replace("_", "-")


def _underscores(code: str | None) -> str | None:
    return code and code.replace("-", "_")


def _outcome(code: str | None) -> str:
    """An outcome LIETIS does not define is an error, not a rejection; none at all is one."""
    return _OUTCOMES["rejected" if code is None else code]


_MESSAGE_ID = Field("message_id", "@messageId")
MESSAGE = Table(NS, _MESSAGE_ID)
"""The envelope's message id, ahead of the profile."""
PROFILE = Table(
    NS,
    Field("record_id", "@profilingId"),
    Field("person_code", "@personCode"),
    Field("municipality", "@municipalityCode", write=attrgetter("atvk")),
    Field("status", "@status", read=_underscores, write=_hyphens),
    Field("registered_on", "@registeredOn"),
    Field("decided_at", "@profiledAt"),
    Field("profile", "@profile", read=_underscores, write=_hyphens),
    Field("nva_branch", "@branch"),
    Field("recommended_measures", "Measure", many=True),
)
RESULT = Table(
    NS,
    _MESSAGE_ID,
    Field("outcome", "@outcome", codes=_OUTCOMES, read=_outcome),
    Field("reason", "@reason"),
)
PROFILE_INTAKE = TableBatch(
    system="lietis",
    schema="lietis/lietis-service-v1.xsd",
    soap_action=f"{SERVICE_NS}#ReceiveProfiles",
    nsmap={"ln": NS},
    request_tag=INTAKE,
    answer=INTAKE_ANSWER,
    item_tag=f"{{{NS}}}Profile",
    result_tag=f"{{{NS}}}Result",
    message=MESSAGE,
    record=PROFILE,
    result=RESULT,
    record_type=EmploymentProfiling,
)
