"""LIETIS's intake of NVA client profiling (F6): the hub's side (a batch target) and LIETIS's side
(the simulator's handler, storing each profile once)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from lxml import etree

from hub.canonical import EmploymentProfiling
from hub.envelope import Envelope
from hub.systems import DeliveryResult
from hub.xml.fields import Field, Table

if TYPE_CHECKING:  # the simulator's side: not in the production image
    from hub.simulation.record_store import RecordStore

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
_PROFILE, _RESULT = f"{{{NS}}}Profile", f"{{{NS}}}Result"


class ProfileIntake:
    system = "lietis"
    schema = "lietis/lietis-service-v1.xsd"
    soap_action = f"{SERVICE_NS}#ReceiveProfiles"
    answer = INTAKE_ANSWER

    def item(self, envelope: Envelope) -> etree._Element:
        p = envelope.record()
        assert isinstance(p, EmploymentProfiling)
        item = MESSAGE.write(etree.Element(_PROFILE, nsmap={"ln": NS}), envelope)
        return PROFILE.write(item, p)

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(INTAKE, nsmap={"ln": NS})
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        results = []
        for r in answer.iterchildren(_RESULT):
            v = RESULT.read(r)
            results.append(DeliveryResult(uuid.UUID(v["message_id"]), v["outcome"], v["reason"]))
        return results


def take_profiles(store: RecordStore, request: etree._Element) -> etree._Element:
    """LIETIS's side: store each profile once, answer each."""
    rows = []
    for p in request.iterchildren(_PROFILE):
        message, profile = MESSAGE.read(p), PROFILE.read(p)
        rows.append(
            (
                message["message_id"],
                "burvis",
                profile["record_id"],
                "employment_profiling",
                profile["person_code"],
                profile["decided_at"],
                etree.tostring(p),
            )
        )
    answer = etree.Element(INTAKE_ANSWER, nsmap={"ln": NS})
    for row, fresh in zip(rows, store.store(rows), strict=True):
        outcome = "delivered" if fresh else "duplicate"
        RESULT.write(etree.SubElement(answer, _RESULT), DeliveryResult(uuid.UUID(row[0]), outcome))
    return answer
