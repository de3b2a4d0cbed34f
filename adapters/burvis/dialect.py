"""BURVIS's messages: profiling results (F6) and cooperation duties (F7), to canonical records and
back; BURVIS's intake of duties as a batch target."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lxml import etree

from hub.canonical import CooperationDuties, EmploymentProfiling, Municipality
from hub.canonical.mapping import Parsed, RecordCollector
from hub.envelope import Envelope
from hub.systems import DeliveryResult
from hub.xml.read import child, child_texts, indexed_children, sub

NS = "urn:lv:nva:burvis:v1"
SERVICE_NS = "urn:lv:nva:burvis:service:v1"
PROFILES = f"{{{NS}}}ProfilesanasRezultati"
DUTIES = f"{{{NS}}}LidzdarbibasPienakumi"
INTAKE = f"{{{NS}}}SanemtPienakumus"
INTAKE_ANSWER = f"{{{NS}}}SanemtPienakumusAtbilde"

STATUSES = {"BEZDARBNIEKS": "unemployed", "DARBA_MEKLETAJS": "job_seeker"}
PROFILE_GROUPS = {
    "TUVU_DARBA_TIRGUM": "close_to_labour_market",
    "NEPIECIESAMS_ATBALSTS": "needs_support",
    "TALU_NO_DARBA_TIRGUS": "far_from_labour_market",
}
DUTY_CODES = {
    "REGISTRETIES_NVA": "register_with_nva",
    "APMEKLET_NVA_KONSULTACIJAS": "attend_nva_consultations",
    "PIEDALITIES_PASAKUMOS": "take_part_in_measures",
    "AKTIVI_MEKLET_DARBU": "seek_work_actively",
    "VESELIBAS_IZVERTESANA": "health_assessment",
    "ATKARIBU_ARSTESANA": "addiction_treatment",
    "CITS": "other",
}
SERVICE_CODES = {
    "SOCIALA_REHABILITACIJA": "social_rehabilitation",
    "PSIHOLOGS": "psychologist",
    "PARADU_KONSULTACIJAS": "debt_counselling",
    "TRANSPORTS": "transport",
    "BERNU_UZRAUDZIBA": "childcare",
    "CITS": "other",
}
_OUTCOMES = {"PIENEMTS": "delivered", "DUBLIKATS": "duplicate", "NORAIDITS": "rejected"}

PROFILE_FIELDS = {
    "record_id": "ProfilesanasId",
    "decision_number": "ProfilesanasId",
    "person_code": "PersonasKods",
    "status": "Statuss",
    "registered_on": "RegistretsNo",
    "decision_date": "ProfilesanasDatums",
    "decided_at": "ProfilesanasLaiks",
    "profile": "Profils",
    "nva_branch": "Filiale",
    "recommended_measures": "IeteiktaAktivitate",
}
DUTY_FIELDS = {
    "record_id": "IerakstaId",
    "person_code": "PersonasKods",
    "decision_number": "Lemums/@numurs",
    "decision_date": "Lemums/@datums",
    "decided_at": "Lemums/@laiks",
    "duties": "Pienakums",
    "valid_from": "DerigsNo",
    "valid_to": "DerigsLidz",
    "services": "SniegtsPakalpojums",
}


def _place(element: etree._Element) -> dict[str, str | None]:
    return {"atvk": element.get("atvk"), "name": element.get("nosaukums")}


def _texts(item: etree._Element, name: str) -> list[str]:
    return [(e.text or "").strip() for e in item.iterfind(f"{{{NS}}}{name}")]


def profiles_to_canonical(batch: etree._Element) -> list[Parsed]:
    records = RecordCollector()
    for at, item in indexed_children(batch, NS, "Klients", "ProfilesanasRezultati"):
        v = child_texts(item, NS)
        values = {
            "record_id": v.get("ProfilesanasId"),
            "decision_number": v.get("ProfilesanasId"),
            "person_code": v.get("PersonasKods"),
            "municipality": _place(child(item, NS, "Pasvaldiba")),
            "status": STATUSES.get(v.get("Statuss", "")),
            "registered_on": v.get("RegistretsNo"),
            "decision_date": v.get("ProfilesanasDatums"),
            "decided_at": v.get("ProfilesanasLaiks"),
            "profile": PROFILE_GROUPS.get(v.get("Profils", "")),
            "nva_branch": v.get("Filiale"),
            "recommended_measures": _texts(item, "IeteiktaAktivitate"),
        }
        records.add(EmploymentProfiling, values, at=at, fields=PROFILE_FIELDS, source=item)
    return records.result()


def profiles_to_xml(profiles: Sequence[EmploymentProfiling]) -> etree._Element:
    codes = {v: k for k, v in STATUSES.items()}
    groups = {v: k for k, v in PROFILE_GROUPS.items()}
    batch = etree.Element(PROFILES, nsmap={"nva": NS})
    for p in profiles:
        item = sub(batch, NS, "Klients")
        sub(item, NS, "ProfilesanasId", p.record_id)
        sub(item, NS, "PersonasKods", p.person_code)
        etree.SubElement(item, f"{{{NS}}}Pasvaldiba", atvk=p.municipality.atvk, nosaukums=p.municipality.name)
        sub(item, NS, "Statuss", codes[p.status])
        sub(item, NS, "RegistretsNo", p.registered_on.isoformat())
        sub(item, NS, "ProfilesanasDatums", p.decision_date.isoformat())
        sub(item, NS, "ProfilesanasLaiks", p.decided_at.isoformat())
        sub(item, NS, "Profils", groups[p.profile])
        sub(item, NS, "Filiale", p.nva_branch)
        for measure in p.recommended_measures:
            sub(item, NS, "IeteiktaAktivitate", measure)
    return batch


def _duty_values(item: etree._Element, municipality: dict[str, str | None]) -> dict[str, object]:
    v = child_texts(item, NS)
    decision = child(item, NS, "Lemums")
    return {
        "record_id": v.get("IerakstaId"),
        "person_code": v.get("PersonasKods"),
        "municipality": municipality,
        "decision_number": decision.get("numurs"),
        "decision_date": decision.get("datums"),
        "decided_at": decision.get("laiks"),
        "duties": [DUTY_CODES.get(code) for code in _texts(item, "Pienakums")],
        "valid_from": v.get("DerigsNo"),
        "valid_to": v.get("DerigsLidz"),
        "services": [
            {"service": SERVICE_CODES.get(s.get("veids", "")), "provided_on": s.get("datums")}
            for s in item.iterfind(f"{{{NS}}}SniegtsPakalpojums")
        ],
    }


def duties_to_canonical(submission: etree._Element) -> list[Parsed]:
    municipality = _place(child(submission, NS, "Pasvaldiba"))
    records = RecordCollector()
    for at, item in indexed_children(submission, NS, "Klients", "LidzdarbibasPienakumi"):
        records.add(CooperationDuties, _duty_values(item, municipality), at=at, fields=DUTY_FIELDS, source=item)
    return records.result()


def _duty_element(parent: etree._Element, d: CooperationDuties) -> None:
    duties = {v: k for k, v in DUTY_CODES.items()}
    services = {v: k for k, v in SERVICE_CODES.items()}
    item = sub(parent, NS, "Klients")
    sub(item, NS, "IerakstaId", d.record_id)
    sub(item, NS, "PersonasKods", d.person_code)
    etree.SubElement(
        item,
        f"{{{NS}}}Lemums",
        numurs=d.decision_number,
        datums=d.decision_date.isoformat(),
        laiks=d.decided_at.isoformat(),
    )
    for duty in d.duties:
        sub(item, NS, "Pienakums", duties[duty])
    sub(item, NS, "DerigsNo", d.valid_from.isoformat())
    sub(item, NS, "DerigsLidz", d.valid_to.isoformat())
    for s in d.services:
        etree.SubElement(
            item, f"{{{NS}}}SniegtsPakalpojums", veids=services[s.service], datums=s.provided_on.isoformat()
        )


def duties_to_xml(records: Sequence[CooperationDuties], municipality: Municipality) -> etree._Element:
    submission = etree.Element(DUTIES, nsmap={"nva": NS})
    etree.SubElement(submission, f"{{{NS}}}Pasvaldiba", atvk=municipality.atvk, nosaukums=municipality.name)
    for d in records:
        _duty_element(submission, d)
    return submission


class IntakeDialect:
    """BURVIS's intake of cooperation duties, as the hub delivers them."""

    system = "burvis"
    schema = "burvis/burvis-v1.xsd"
    soap_action = f"{SERVICE_NS}#SanemtPienakumus"
    answer = INTAKE_ANSWER

    def item(self, envelope: Envelope) -> etree._Element:
        duties = envelope.record()
        assert isinstance(duties, CooperationDuties)
        item = etree.Element(f"{{{NS}}}Ieraksts", nsmap={"nva": NS})
        sub(item, NS, "ZinojumaId", envelope.message_id)
        sub(item, NS, "AvotaSistema", envelope.source)
        sub(item, NS, "Lietotajs", envelope.user_id)
        place = duties.municipality
        etree.SubElement(item, f"{{{NS}}}Pasvaldiba", atvk=place.atvk, nosaukums=place.name)
        _duty_element(item, duties)
        return item

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(INTAKE, nsmap={"nva": NS})
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        return [
            DeliveryResult(
                uuid.UUID(r.findtext(f"{{{NS}}}ZinojumaId")),
                _OUTCOMES.get(r.findtext(f"{{{NS}}}Statuss") or "", "rejected"),  # type: ignore[arg-type]
                r.findtext(f"{{{NS}}}Iemesls"),
            )
            for r in answer.iterfind(f"{{{NS}}}Rezultats")
        ]
