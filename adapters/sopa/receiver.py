"""SOPA's intake of NVA client profiling (F6), as one table-told batch: the hub delivers by it and
SOPA's simulator answers by it."""

from __future__ import annotations

from operator import attrgetter

from hub.canonical import EmploymentProfiling
from hub.soap.batch import TableBatch
from hub.xml.fields import Field, Table

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
PROFILE_INTAKE = TableBatch(
    system="sopa",
    schema="sopa/sopa-service-v1.xsd",
    soap_action=f"{SERVICE_NS}#SanemtProfilus",
    nsmap={"sn": NS},
    request_tag=INTAKE,
    answer=INTAKE_ANSWER,
    item_tag=f"{{{NS}}}Profils",
    result_tag=f"{{{NS}}}Rezultats",
    message=MESSAGE,
    record=PROFILE,
    result=RESULT,
    record_type=EmploymentProfiling,
)
