"""A stand-in for SPOLIS's data load service: a real SOAP server over HTTP that validates what it
gets against SPOLIS's XSD, applies SPOLIS's business rules and stores each record once.

Each record is stored once per ZinojumaId (a resend is answered DUBLIKATS and counted). For each
source record SPOLIS keeps the latest decision as current, by the decision's own time: an older
version arriving later is kept in history but never replaces a newer one.

Knobs for fault tests, settable at start or while running through `POST /_sim/config`: latency,
a share of calls answered with a SOAP Server fault (HTTP 500), a share of calls that store the
records and then answer too late (a client timeout), and providers added to the register.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from starlette.applications import Starlette

from adapters.spolis.outbound import ANSWER, NS, SUBMIT
from hub.simulation import pki
from hub.simulation.record_store import RecordStore
from hub.simulation.records import providers
from hub.simulation.serve import serve_forever
from hub.simulation.soap_server import Knobs, SoapServer

_KINDS = {
    f"{{{NS}}}Pabalsts": "benefit",
    f"{{{NS}}}MajsaimniecibasStatuss": "household_status",
    f"{{{NS}}}SocialaisPakalpojums": "social_service",
    f"{{{NS}}}AsistentaPakalpojums": "assistant_service",
    f"{{{NS}}}VdeavkAtzinums": "assistant_opinion",
    f"{{{NS}}}MenesaParskats": "monthly_report",
}


def _version_time(item: etree._Element, content: etree._Element) -> str:
    """The record's own time: the decision's, or when a report was prepared."""
    decision = item.find(f"{{{NS}}}Lemums")
    return decision.get("laiks") if decision is not None else content.findtext(f"{{{NS}}}Sagatavots")


@dataclass
class SpolisKnobs(Knobs):
    extra_providers: list[str] = field(default_factory=list)  # registered while running (fixing the target)


class SpolisService:
    def __init__(self, store: RecordStore, knobs: SpolisKnobs | None = None, *, seed: int | None = None) -> None:
        self.store = store
        self.knobs = knobs or SpolisKnobs()
        self.known_providers = {p.register_no for p in providers()}
        self.server = SoapServer(
            system="spolis",
            schema="spolis/spolis-v1.xsd",
            wsdl="spolis/spolis-service-v1.wsdl",
            handlers={SUBMIT: self._submit},
            knobs=self.knobs,
            seed=seed,
            count=self.store.count,
            stats=self.store.stats,
        )

    def app(self) -> Starlette:
        return self.server.app()

    def _submit(self, request: etree._Element) -> etree._Element:
        answer = etree.Element(ANSWER, nsmap={"sp": NS})
        rows, row_ids, rejected = [], [], []
        for item in request.iterfind(f"{{{NS}}}Ieraksts"):
            message_id = item.findtext(f"{{{NS}}}ZinojumaId")
            content = item[-1]
            kind = _KINDS[content.tag]
            if kind == "social_service":
                register_no = content.find(f"{{{NS}}}Sniedzejs").get("registraNr")
                if register_no not in self.known_providers and register_no not in self.knobs.extra_providers:
                    rejected.append(
                        (message_id, "NEZINAMS_SNIEDZEJS", f"provider {register_no} is not in the register")
                    )
                    continue
            rows.append(
                (
                    message_id,
                    item.findtext(f"{{{NS}}}AvotaSistema"),
                    item.findtext(f"{{{NS}}}AvotaIerakstaId"),
                    kind,
                    item.findtext(f"{{{NS}}}PersonasKods"),
                    _version_time(item, content),
                    etree.tostring(item),
                )
            )
            row_ids.append(message_id)
        fresh = self.store.store(rows) if rows else []
        self.store.count("rejected", len(rejected))
        for message_id, new in zip(row_ids, fresh, strict=True):
            self._result(answer, message_id, "PIENEMTS" if new else "DUBLIKATS")
        for message_id, code, text in rejected:
            self._result(answer, message_id, "NORAIDITS", code, text)
        return answer

    @staticmethod
    def _result(
        answer: etree._Element, message_id: str, status: str, code: str | None = None, text: str | None = None
    ) -> None:
        result = etree.SubElement(answer, f"{{{NS}}}Rezultats")
        etree.SubElement(result, f"{{{NS}}}ZinojumaId").text = message_id
        etree.SubElement(result, f"{{{NS}}}Statuss").text = status
        if code:
            reason = etree.SubElement(result, f"{{{NS}}}Iemesls", kods=code)
            reason.text = text


class SpolisSimulator:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8091)
        parser.add_argument("--db", type=Path, default=Path("var/spolis.sqlite3"), help="the simulator's store")
        parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
        parser.add_argument("--fault-rate", type=float, default=0.0, help="share of calls answered with a Server fault")
        parser.add_argument("--timeout-rate", type=float, default=0.0, help="share of calls answered too late")
        pki.add_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        store = RecordStore(args.db)
        service = SpolisService(store, SpolisKnobs(args.latency_ms, args.fault_rate, args.timeout_rate))
        service.server.verifier = pki.hub_verifier(args.pki)
        return serve_forever(
            service.app(), args.host, args.port, "SPOLIS simulator", "/soap/spolis", on_stop=store.close
        )


SIMULATOR = SpolisSimulator()
