"""A stand-in for BURVIS: a SOAP server taking the cooperation duties the hub delivers (F7), each
stored once, and a client sending profiling results through the hub (F6)."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path

from lxml import etree

from adapters.burvis.dialect import INTAKE, INTAKE_ANSWER, NS, profiles_to_xml
from hub.canonical import EmploymentProfiling, Municipality
from hub.simulation import pki
from hub.simulation.client import HubClient
from hub.simulation.people import person_code
from hub.simulation.record_store import RecordStore
from hub.simulation.records import RIGA_TIME
from hub.simulation.serve import serve_forever
from hub.simulation.soap_server import Knobs, SoapServer
from hub.soap.signature import Signer
from hub.xml.read import sub

# The municipalities whose social services take profiling through the hub.
CONNECTED = (
    Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība"),
    Municipality(atvk="0002000", name="Daugavpils valstspilsētas pašvaldība"),
)
BRANCHES = {"0001000": "NVA Rīgas reģionālā filiāle", "0002000": "NVA Daugavpils filiāle"}
MEASURES = (
    "Profesionālās piemērotības noteikšana",
    "Karjeras konsultācijas",
    "Neformālās izglītības programma",
    "Algoti pagaidu sabiedriskie darbi",
    "Motivācijas programma",
)


class BurvisService:
    def __init__(self, store: RecordStore, knobs: Knobs | None = None, *, seed: int | None = None) -> None:
        self.store = store
        self.server = SoapServer(
            system="burvis",
            schema="burvis/burvis-v1.xsd",
            wsdl="burvis/burvis-service-v1.wsdl",
            handlers={INTAKE: self._intake},
            knobs=knobs,
            seed=seed,
            count=store.count,
            stats=store.stats,
        )

    def app(self):  # type: ignore[no-untyped-def]
        return self.server.app()

    def _intake(self, request: etree._Element) -> etree._Element:
        rows, ids = [], []
        for item in request.iterfind(f"{{{NS}}}Ieraksts"):
            client = item.find(f"{{{NS}}}Klients")
            message_id = item.findtext(f"{{{NS}}}ZinojumaId")
            rows.append(
                (
                    message_id,
                    item.findtext(f"{{{NS}}}AvotaSistema"),
                    client.findtext(f"{{{NS}}}IerakstaId"),
                    "cooperation_duties",
                    client.findtext(f"{{{NS}}}PersonasKods"),
                    client.find(f"{{{NS}}}Lemums").get("laiks"),
                    etree.tostring(item),
                )
            )
            ids.append(message_id)
        answer = etree.Element(INTAKE_ANSWER, nsmap={"nva": NS})
        for message_id, fresh in zip(ids, self.store.store(rows), strict=True):
            result = sub(answer, NS, "Rezultats")
            sub(result, NS, "ZinojumaId", message_id)
            sub(result, NS, "Statuss", "PIENEMTS" if fresh else "DUBLIKATS")
        return answer


def profilings(count: int, rng: random.Random, today: dt.date) -> list[EmploymentProfiling]:
    result = []
    for n in range(count):
        place = rng.choice(CONNECTED)
        profiled = today - dt.timedelta(days=rng.randrange(0, 30))
        registered = profiled - dt.timedelta(days=rng.randrange(0, 200))
        record_id = f"NVA-PROF-{rng.randrange(10**6):06d}-{n}"
        result.append(
            EmploymentProfiling(
                record_id=record_id,
                decision_number=record_id,
                person_code=person_code(rng),
                municipality=place,
                status=rng.choices(("unemployed", "job_seeker"), weights=(4, 1))[0],
                registered_on=registered,
                decision_date=profiled,
                decided_at=dt.datetime.combine(profiled, dt.time(rng.randrange(8, 17), rng.randrange(60)), RIGA_TIME),
                profile=rng.choice(("close_to_labour_market", "needs_support", "far_from_labour_market")),
                nva_branch=BRANCHES[place.atvk],
                recommended_measures=rng.sample(MEASURES, rng.randint(0, 3)),
            )
        )
    return result


def send_profiles(url: str, count: int, rng: random.Random, batch: int = 100, signer: Signer | None = None) -> int:
    client = HubClient(url, sender="burvis", signer=signer)
    refused = 0
    try:
        records = profilings(count, rng, dt.date.today())
        for start in range(0, count, batch):
            chunk = records[start : start + batch]
            submitted = client.submit(
                profiles_to_xml(chunk), destination="hub", user_id="nva.burvis", records=len(chunk)
            )
            if not submitted.accepted:
                refused += len(chunk)
                print(f"refused: {submitted.fault}", file=sys.stderr)
    finally:
        client.close()
    print(f"burvis: sent={count} accepted={count - refused} refused={refused}")
    return 0 if not refused else 1


class BurvisSimulator:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8096)
        parser.add_argument("--db", type=Path, default=Path("var/burvis.sqlite3"))
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--fault-rate", type=float, default=0.0)
        parser.add_argument(
            "--send-profiles", type=int, metavar="N", help="send N profiling results to the hub and exit"
        )
        parser.add_argument("--url", default="http://127.0.0.1:8080", help="the hub, for --send-profiles")
        parser.add_argument("--seed", type=int)
        pki.add_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        if args.send_profiles:
            signer = pki.signer_for("burvis", args.pki)
            return send_profiles(args.url, args.send_profiles, random.Random(args.seed), signer=signer)
        store = RecordStore(args.db)
        service = BurvisService(store, Knobs(args.latency_ms, args.fault_rate))
        service.server.verifier = pki.hub_verifier(args.pki)
        return serve_forever(
            service.app(), args.host, args.port, "BURVIS simulator", "/soap/burvis", on_stop=store.close
        )


SIMULATOR = BurvisSimulator()
