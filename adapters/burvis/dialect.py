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
from hub.xml.fields import Field, Table, group
from hub.xml.read import child, indexed_children, sub

NS = "urn:lv:nva:burvis:v1"
SERVICE_NS = "urn:lv:nva:burvis:service:v1"
_PROFILES, _DUTIES = "ProfilesanasRezultati", "LidzdarbibasPienakumi"
PROFILES, DUTIES = f"{{{NS}}}{_PROFILES}", f"{{{NS}}}{_DUTIES}"
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

PLACE = Table(NS, Field("atvk", "@atvk"), Field("name", "@nosaukums"))
_MUNICIPALITY = Field("municipality", "Pasvaldiba", table=PLACE)
_PERSON = Field("person_code", "PersonasKods")
PROFILE = Table(
    NS,
    Field("record_id", "ProfilesanasId", also=("decision_number",)),
    _PERSON,
    _MUNICIPALITY,
    Field("status", "Statuss", codes=STATUSES),
    Field("registered_on", "RegistretsNo"),
    Field("decision_date", "ProfilesanasDatums"),
    Field("decided_at", "ProfilesanasLaiks"),
    Field("profile", "Profils", codes=PROFILE_GROUPS),
    Field("nva_branch", "Filiale"),
    Field("recommended_measures", "IeteiktaAktivitate", many=True),
)
SERVICE_GIVEN = Table(NS, Field("service", "@veids", codes=SERVICE_CODES), Field("provided_on", "@datums"))
DUTY = Table(
    NS,
    Field("record_id", "IerakstaId"),
    _PERSON,
    *group(
        "Lemums",
        Field("decision_number", "@numurs"),
        Field("decision_date", "@datums"),
        Field("decided_at", "@laiks"),
    ),
    Field("duties", "Pienakums", codes=DUTY_CODES, many=True),
    Field("valid_from", "DerigsNo"),
    Field("valid_to", "DerigsLidz"),
    Field("services", "SniegtsPakalpojums", table=SERVICE_GIVEN, many=True),
)
_MESSAGE_ID = Field("message_id", "ZinojumaId")
ENVELOPE = Table(NS, _MESSAGE_ID, Field("source", "AvotaSistema"), Field("user_id", "Lietotajs"))
"""What the hub says of each duties record it delivers, ahead of the record."""
RESULT = Table(
    NS,
    _MESSAGE_ID,
    Field("outcome", "Statuss", codes=_OUTCOMES),
    Field("reason", "Iemesls"),
    strip=False,  # read as BURVIS wrote it, as it always was
)
_RECORD, _ITEM, _RESULT = "Klients", "Ieraksts", "Rezultats"


def profiles_to_canonical(batch: etree._Element) -> list[Parsed]:
    records = RecordCollector()
    for at, item in indexed_children(batch, NS, _RECORD, _PROFILES):
        records.add(EmploymentProfiling, PROFILE.read(item), at=at, fields=PROFILE.paths, source=item)
    return records.result()


def profiles_to_xml(profiles: Sequence[EmploymentProfiling]) -> etree._Element:
    batch = etree.Element(PROFILES, nsmap={"nva": NS})
    for p in profiles:
        PROFILE.write(sub(batch, NS, _RECORD), p)
    return batch


def duties_to_canonical(submission: etree._Element) -> list[Parsed]:
    municipality = PLACE.read(child(submission, NS, _MUNICIPALITY.path))  # once per submission
    records = RecordCollector()
    for at, item in indexed_children(submission, NS, _RECORD, _DUTIES):
        values = DUTY.read(item)
        values["municipality"] = municipality
        records.add(CooperationDuties, values, at=at, fields=DUTY.paths, source=item)
    return records.result()


def duties_to_xml(records: Sequence[CooperationDuties], municipality: Municipality) -> etree._Element:
    submission = etree.Element(DUTIES, nsmap={"nva": NS})
    PLACE.write(sub(submission, NS, _MUNICIPALITY.path), municipality)
    for d in records:
        DUTY.write(sub(submission, NS, _RECORD), d)
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
        item = ENVELOPE.write(etree.Element(f"{{{NS}}}{_ITEM}", nsmap={"nva": NS}), envelope)
        PLACE.write(sub(item, NS, _MUNICIPALITY.path), duties.municipality)
        DUTY.write(sub(item, NS, _RECORD), duties)
        return item

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(INTAKE, nsmap={"nva": NS})
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        results = []
        for r in answer.iterchildren(f"{{{NS}}}{_RESULT}"):
            v = RESULT.read(r)
            results.append(DeliveryResult(uuid.UUID(v["message_id"]), v["outcome"] or "rejected", v["reason"]))
        return results
