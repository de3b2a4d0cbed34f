"""LIETIS's intake of NVA client profiling (F6): the hub's side (a batch target) and LIETIS's side
(the simulator's handler, storing each profile once)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lxml import etree

from hub.canonical import EmploymentProfiling
from hub.envelope import Envelope
from hub.simulation.record_store import RecordStore
from hub.systems import DeliveryResult

NS = "urn:lv:daugavpils:lietis:nva:v1"
SERVICE_NS = "urn:lv:daugavpils:lietis:nva:service:v1"
INTAKE = f"{{{NS}}}ReceiveProfiles"
INTAKE_ANSWER = f"{{{NS}}}ReceiveProfilesResult"


class ProfileIntake:
    system = "lietis"
    schema = "lietis/lietis-service-v1.xsd"
    soap_action = f"{SERVICE_NS}#ReceiveProfiles"
    answer = INTAKE_ANSWER

    def item(self, envelope: Envelope) -> etree._Element:
        p = envelope.record()
        assert isinstance(p, EmploymentProfiling)
        item = etree.Element(
            f"{{{NS}}}Profile",
            nsmap={"ln": NS},
            messageId=str(envelope.message_id),
            profilingId=p.record_id,
            personCode=p.person_code,
            municipalityCode=p.municipality.atvk,
            status=p.status.replace("_", "-"),
            registeredOn=p.registered_on.isoformat(),
            profiledAt=p.decided_at.isoformat(),
            profile=p.profile.replace("_", "-"),
            branch=p.nva_branch,
        )
        for measure in p.recommended_measures:
            etree.SubElement(item, f"{{{NS}}}Measure").text = measure
        return item

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(INTAKE, nsmap={"ln": NS})
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        outcomes = {"accepted": "delivered", "duplicate": "duplicate", "rejected": "rejected"}
        return [
            DeliveryResult(uuid.UUID(r.get("messageId")), outcomes[r.get("outcome", "rejected")], r.get("reason"))  # type: ignore[arg-type]
            for r in answer.iterfind(f"{{{NS}}}Result")
        ]


def take_profiles(store: RecordStore, request: etree._Element) -> etree._Element:
    """LIETIS's side: store each profile once, answer each."""
    rows = [
        (
            p.get("messageId"),
            "burvis",
            p.get("profilingId"),
            "employment_profiling",
            p.get("personCode"),
            p.get("profiledAt"),
            etree.tostring(p),
        )
        for p in request.iterfind(f"{{{NS}}}Profile")
    ]
    answer = etree.Element(INTAKE_ANSWER, nsmap={"ln": NS})
    for row, fresh in zip(rows, store.store(rows), strict=True):
        etree.SubElement(answer, f"{{{NS}}}Result", messageId=row[0], outcome="accepted" if fresh else "duplicate")
    return answer
