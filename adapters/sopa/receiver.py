"""SOPA's intake of NVA client profiling (F6): the hub's side (a batch target) and SOPA's side (the
simulator's handler, storing each profile once)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lxml import etree

from hub.canonical import EmploymentProfiling
from hub.envelope import Envelope
from hub.simulation.record_store import RecordStore
from hub.systems import DeliveryResult
from hub.xml.read import sub

NS = "urn:lv:riga:sopa:nva:v1"
SERVICE_NS = "urn:lv:riga:sopa:nva:service:v1"
INTAKE = f"{{{NS}}}SanemtProfilus"
INTAKE_ANSWER = f"{{{NS}}}SanemtProfilusAtbilde"
_STATUSES = {"unemployed": "BEZDARBNIEKS", "job_seeker": "DARBA_MEKLETAJS"}
_GROUPS = {"close_to_labour_market": "A", "needs_support": "B", "far_from_labour_market": "C"}
_OUTCOMES = {"OK": "delivered", "DUBLIKATS": "duplicate", "KLUDA": "rejected"}


class ProfileIntake:
    system = "sopa"
    schema = "sopa/sopa-service-v1.xsd"
    soap_action = f"{SERVICE_NS}#SanemtProfilus"
    answer = INTAKE_ANSWER

    def item(self, envelope: Envelope) -> etree._Element:
        p = envelope.record()
        assert isinstance(p, EmploymentProfiling)
        item = etree.Element(f"{{{NS}}}Profils", nsmap={"sn": NS})
        sub(item, NS, "ZinojumaId", envelope.message_id)
        sub(item, NS, "NVAProfilesanasId", p.record_id)
        sub(item, NS, "PersonasKods", p.person_code)
        sub(item, NS, "AtvkKods", p.municipality.atvk)
        sub(item, NS, "Statuss", _STATUSES[p.status])
        sub(item, NS, "RegistretsNo", p.registered_on.isoformat())
        sub(item, NS, "Profilets", p.decided_at.isoformat())
        sub(item, NS, "ProfilaGrupa", _GROUPS[p.profile])
        sub(item, NS, "NVAFiliale", p.nva_branch)
        for measure in p.recommended_measures:
            sub(item, NS, "Ieteikums", measure)
        return item

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(INTAKE, nsmap={"sn": NS})
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        return [
            DeliveryResult(
                uuid.UUID(r.get("zinojumaId")),
                _OUTCOMES.get(r.get("statuss", ""), "rejected"),  # type: ignore[arg-type]
                r.get("kluda"),
            )
            for r in answer.iterfind(f"{{{NS}}}Rezultats")
        ]


def take_profiles(store: RecordStore, request: etree._Element) -> etree._Element:
    """SOPA's side: store each profile once, answer each."""
    rows = [
        (
            p.findtext(f"{{{NS}}}ZinojumaId"),
            "burvis",
            p.findtext(f"{{{NS}}}NVAProfilesanasId"),
            "employment_profiling",
            p.findtext(f"{{{NS}}}PersonasKods"),
            p.findtext(f"{{{NS}}}Profilets"),
            etree.tostring(p),
        )
        for p in request.iterfind(f"{{{NS}}}Profils")
    ]
    answer = etree.Element(INTAKE_ANSWER, nsmap={"sn": NS})
    for row, fresh in zip(rows, store.store(rows), strict=True):
        etree.SubElement(answer, f"{{{NS}}}Rezultats", zinojumaId=row[0], statuss="OK" if fresh else "DUBLIKATS")
    return answer
