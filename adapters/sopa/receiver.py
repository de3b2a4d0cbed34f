"""SOPA's intake of NVA client profiling (F6): the hub's side (a batch target) and SOPA's side (the
simulator's handler, storing each profile once)."""

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

NS = "urn:lv:riga:sopa:nva:v1"
SERVICE_NS = "urn:lv:riga:sopa:nva:service:v1"
INTAKE = f"{{{NS}}}SanemtProfilus"
INTAKE_ANSWER = f"{{{NS}}}SanemtProfilusAtbilde"
_OUTCOMES = {"OK": "delivered", "DUBLIKATS": "duplicate", "KLUDA": "rejected"}

MESSAGE = Table(NS, Field("message_id", "ZinojumaId"), strip=False)
"""The envelope's message id, ahead of the profile."""
PROFILE = Table(
    NS,
    Field("record_id", "NVAProfilesanasId"),
    Field("person_code", "PersonasKods"),
    Field("municipality", "AtvkKods", write=attrgetter("atvk")),
    Field("status", "Statuss", codes={"BEZDARBNIEKS": "unemployed", "DARBA_MEKLETAJS": "job_seeker"}),
    Field("registered_on", "RegistretsNo"),
    Field("decided_at", "Profilets"),
    Field(
        "profile",
        "ProfilaGrupa",
        codes={"A": "close_to_labour_market", "B": "needs_support", "C": "far_from_labour_market"},
    ),
    Field("nva_branch", "NVAFiliale"),
    Field("recommended_measures", "Ieteikums", many=True),
    strip=False,  # SOPA's side stores them as the hub wrote them
)
RESULT = Table(
    NS,
    Field("message_id", "@zinojumaId"),
    Field("outcome", "@statuss", codes=_OUTCOMES),
    Field("reason", "@kluda"),
)
_PROFILE, _RESULT = f"{{{NS}}}Profils", f"{{{NS}}}Rezultats"


class ProfileIntake:
    system = "sopa"
    schema = "sopa/sopa-service-v1.xsd"
    soap_action = f"{SERVICE_NS}#SanemtProfilus"
    answer = INTAKE_ANSWER

    def item(self, envelope: Envelope) -> etree._Element:
        p = envelope.record()
        assert isinstance(p, EmploymentProfiling)
        item = MESSAGE.write(etree.Element(_PROFILE, nsmap={"sn": NS}), envelope)
        return PROFILE.write(item, p)

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(INTAKE, nsmap={"sn": NS})
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        results = []
        for r in answer.iterchildren(_RESULT):
            v = RESULT.read(r)
            results.append(DeliveryResult(uuid.UUID(v["message_id"]), v["outcome"] or "rejected", v["reason"]))
        return results


def take_profiles(store: RecordStore, request: etree._Element) -> etree._Element:
    """SOPA's side: store each profile once, answer each."""
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
    answer = etree.Element(INTAKE_ANSWER, nsmap={"sn": NS})
    for row, fresh in zip(rows, store.store(rows), strict=True):
        outcome = "delivered" if fresh else "duplicate"
        RESULT.write(etree.SubElement(answer, _RESULT), DeliveryResult(uuid.UUID(row[0]), outcome))
    return answer
