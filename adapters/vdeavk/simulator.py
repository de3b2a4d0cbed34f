"""A stand-in for VDEĀVK: a SOAP server answering GetUniversalServiceDataIS the same way for the
same person (F4), and a client pushing opinions on the need for an assistant through the hub (F3)."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys

from lxml import etree

from adapters.vdeavk.dialect import QUERY, answer_to_xml, opinions_to_xml, query_to_canonical
from hub.canonical import AssistantOpinion
from hub.canonical.queries import DisabilityAnswer, OpinionSummary
from hub.simulation import pki
from hub.simulation.client import HubClient
from hub.simulation.people import person_code
from hub.simulation.records import RIGA_TIME
from hub.simulation.serve import serve_forever
from hub.simulation.soap_server import Knobs, SoapServer
from hub.soap.signature import Signer

IMPAIRMENTS = ("mobility", "vision", "hearing", "mental", "intellectual", "internal_organs", "other")


def disability_of(code: str, today: dt.date) -> DisabilityAnswer:
    """About a third of the people asked about have a disability record; the same answer every time."""
    rng = random.Random(hashlib.sha256(f"vdeavk/{code}".encode()).digest())
    if rng.random() < 0.65:
        return DisabilityAnswer(found=False)
    group = rng.choice(("1", "2", "3"))
    valid_from = today - dt.timedelta(days=rng.randrange(30, 1500))
    opinion = None
    if group in ("1", "2") and rng.random() < 0.7:
        needed = rng.random() < 0.8
        opinion = OpinionSummary(
            opinion_id=f"VDEAVK-A-{rng.randrange(10**6):06d}",
            issued_on=valid_from + dt.timedelta(days=rng.randrange(0, 20)),
            needed=needed,
            hours_per_week=rng.choice((10, 20, 30, 40)) if needed else None,
        )
    return DisabilityAnswer(
        found=True,
        disability_group=group,
        valid_from=valid_from,
        valid_to=None if rng.random() < 0.3 else valid_from + dt.timedelta(days=365 * rng.choice((1, 2, 5))),
        impairments=sorted(rng.sample(IMPAIRMENTS, rng.randint(1, 2))),
        assistant_opinion=opinion,
    )


def opinions(count: int, rng: random.Random, today: dt.date) -> list[AssistantOpinion]:
    result = []
    for n in range(count):
        issued = today - dt.timedelta(days=rng.randrange(1, 60))
        needed = rng.random() < 0.8
        result.append(
            AssistantOpinion(
                record_id=f"VDEAVK-A-{rng.randrange(10**6):06d}-{n}",
                person_code=person_code(rng),
                decision_number=f"{issued.year}/{rng.randrange(10**5):05d}",
                decision_date=issued,
                decided_at=dt.datetime.combine(issued, dt.time(rng.randrange(8, 17)), RIGA_TIME),
                needed=needed,
                hours_per_week=rng.choice((10, 20, 30, 40)) if needed else None,
                valid_from=issued,
                valid_to=issued + dt.timedelta(days=365 * rng.choice((1, 2, 5))),
                disability_group=rng.choice(("1", "2")),
            )
        )
    return result


class VdeavkService:
    def __init__(self, knobs: Knobs | None = None, *, seed: int | None = None, today: dt.date | None = None) -> None:
        self.today = today or dt.date.today()
        self.server = SoapServer(
            system="vdeavk",
            schema="vdeavk/vdeavk-v1.xsd",
            wsdl="vdeavk/vdeavk-service-v1.wsdl",
            handlers={QUERY: self._answer},
            knobs=knobs,
            seed=seed,
        )

    def app(self):  # type: ignore[no-untyped-def]
        return self.server.app()

    def _answer(self, request: etree._Element) -> etree._Element:
        ((query, _),) = query_to_canonical(request)
        return answer_to_xml(disability_of(query.person_code, self.today))


class VdeavkSimulator:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8093)
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--fault-rate", type=float, default=0.0)
        parser.add_argument("--send-opinions", type=int, metavar="N", help="push N opinions to the hub and exit")
        parser.add_argument("--url", default="http://127.0.0.1:8080", help="the hub, for --send-opinions")
        parser.add_argument("--seed", type=int)
        pki.add_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        if args.send_opinions:
            signer = pki.signer_for("vdeavk", args.pki)
            return send_opinions(args.url, args.send_opinions, random.Random(args.seed), signer=signer)
        service = VdeavkService(Knobs(args.latency_ms, args.fault_rate))
        service.server.verifier = pki.hub_verifier(args.pki)
        return serve_forever(service.app(), args.host, args.port, "VDEĀVK simulator", "/soap/vdeavk")


def send_opinions(url: str, count: int, rng: random.Random, batch: int = 100, signer: Signer | None = None) -> int:
    client = HubClient(url, sender="vdeavk", signer=signer)
    refused = 0
    try:
        all_opinions = opinions(count, rng, dt.date.today())
        for start in range(0, count, batch):
            chunk = all_opinions[start : start + batch]
            submitted = client.submit(
                opinions_to_xml(chunk), destination="spolis", user_id="vdeavk.ekspertu.komisija", records=len(chunk)
            )
            if not submitted.accepted:
                refused += len(chunk)
                print(f"refused: {submitted.fault}", file=sys.stderr)
    finally:
        client.close()
    print(f"vdeavk: sent={count} accepted={count - refused} refused={refused}")
    return 0 if not refused else 1


SIMULATOR = VdeavkSimulator()
