"""A stand-in for SPOLIS's data load service: a real SOAP server over HTTP that validates what it
gets against SPOLIS's XSD, applies SPOLIS's business rules and stores each record once.

Knobs for fault tests: latency and a share of calls answered with a SOAP Server fault (HTTP 500),
settable at start or while running through `POST /_sim/config`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapters.spolis.outbound import ANSWER, NS, SUBMIT
from hub.errors import ValidationFailed
from hub.http_server import ServerThread
from hub.settings import PROJECT_ROOT
from hub.simulation.records import providers
from hub.soap import build_envelope, fault_from_error, parse_envelope
from hub.soap.faults import Fault
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

SCHEMAS = PROJECT_ROOT / "schemas"
_KINDS = {
    f"{{{NS}}}Pabalsts": "benefit",
    f"{{{NS}}}MajsaimniecibasStatuss": "household_status",
    f"{{{NS}}}SocialaisPakalpojums": "social_service",
}


class SpolisStore:
    """SQLite: each record once per ZinojumaId; duplicates counted, never stored twice."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (message_id TEXT PRIMARY KEY, source TEXT, source_record_id TEXT,"
            " kind TEXT, person_code TEXT, decided_at TEXT, xml BLOB, received_at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._lock = threading.Lock()

    def store(self, rows: list[tuple[str, str, str, str, str, str, bytes]]) -> list[bool]:
        """True for each row stored now, False for one already held."""
        fresh: list[bool] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO records (message_id, source, source_record_id, kind, person_code,"
                        " decided_at, xml) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    fresh.append(cursor.rowcount == 1)
                self._count("duplicates", fresh.count(False))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return fresh

    def _count(self, name: str, by: int) -> None:
        if by:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    def count(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._count(name, by)

    def stats(self) -> dict[str, int]:
        with self._lock:
            records = self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return {
            "records": records,
            "duplicates": counters.get("duplicates", 0),
            "rejected": counters.get("rejected", 0),
            "calls": counters.get("calls", 0),
            "faults_injected": counters.get("faults_injected", 0),
        }

    def message_ids(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT message_id FROM records")]

    def close(self) -> None:
        self._db.close()


@dataclass
class Knobs:
    latency_ms: float = 0.0
    fault_rate: float = 0.0


class SpolisService:
    def __init__(self, store: SpolisStore, knobs: Knobs | None = None, *, seed: int | None = None) -> None:
        self.store = store
        self.knobs = knobs or Knobs()
        self.schema = Schema(SCHEMAS / "spolis" / "spolis-v1.xsd")
        self.parser = HardenedParser(max_bytes=32 * 1024 * 1024, max_depth=16)
        self.known_providers = {p.register_no for p in providers()}
        self.rng = random.Random(seed)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/soap/spolis", self.soap, methods=["GET", "POST"]),
                Route("/schemas/{path:path}", self.schema_file, methods=["GET"]),
                Route("/_sim/stats", self.stats, methods=["GET"]),
                Route("/_sim/config", self.configure, methods=["POST"]),
            ]
        )

    async def soap(self, request: Request) -> Response:
        if request.method == "GET":
            wsdl = (SCHEMAS / "spolis" / "spolis-v1.wsdl").read_text(encoding="utf-8")
            base = str(request.base_url).rstrip("/")
            wsdl = wsdl.replace('schemaLocation="', f'schemaLocation="{base}/schemas/spolis/')
            wsdl = wsdl.replace("http://localhost:8091/soap/spolis", f"{base}/soap/spolis")
            return Response(wsdl, media_type="text/xml; charset=utf-8")
        body = await request.body()
        if self.knobs.latency_ms:
            await asyncio.sleep(self.knobs.latency_ms / 1000)
        header = None
        try:
            self.store.count("calls")
            if self.knobs.fault_rate and self.rng.random() < self.knobs.fault_rate:
                self.store.count("faults_injected")
                raise Fault("Server", "SPOLIS is temporarily overloaded", "target_unavailable", True)
            message = parse_envelope(self.parser.parse(body))
            header = message.header() if message.header_element is not None else None
            answer = await run_in_threadpool(self._submit, message.body)
            return Response(build_envelope(answer, header), media_type="text/xml; charset=utf-8")
        except Exception as exc:
            fault = fault_from_error(exc)
            return Response(
                build_envelope(fault.to_element(), header), status_code=500, media_type="text/xml; charset=utf-8"
            )

    def _submit(self, request: etree._Element) -> etree._Element:
        if request.tag != SUBMIT:
            raise ValidationFailed.single(etree.QName(request).localname, "unknown-operation", "only IesniegtIerakstus")
        errors = self.schema.errors(request)
        if errors:
            raise ValidationFailed(errors)
        answer = etree.Element(ANSWER, nsmap={"sp": NS})
        rows, row_ids, rejected = [], [], []
        for item in request.iterfind(f"{{{NS}}}Ieraksts"):
            message_id = item.findtext(f"{{{NS}}}ZinojumaId")
            content = item[-1]
            kind = _KINDS[content.tag]
            if kind == "social_service":
                register_no = content.find(f"{{{NS}}}Sniedzejs").get("registraNr")
                if register_no not in self.known_providers:
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
                    item.find(f"{{{NS}}}Lemums").get("laiks"),
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

    async def schema_file(self, request: Request) -> Response:
        path = (SCHEMAS / request.path_params["path"]).resolve()
        if not path.is_relative_to(SCHEMAS.resolve()) or path.suffix != ".xsd" or not path.is_file():
            return PlainTextResponse("not found\n", status_code=404)
        return Response(path.read_bytes(), media_type="text/xml; charset=utf-8")

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.store.stats())

    async def configure(self, request: Request) -> Response:
        values = json.loads(await request.body() or b"{}")
        for name in ("latency_ms", "fault_rate"):
            if name in values:
                setattr(self.knobs, name, float(values[name]))
        return JSONResponse(vars(self.knobs))


class SpolisSimulator:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8091)
        parser.add_argument("--db", type=Path, default=Path("var/spolis.sqlite3"), help="the simulator's store")
        parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
        parser.add_argument("--fault-rate", type=float, default=0.0, help="share of calls answered with a Server fault")

    def run(self, args: argparse.Namespace) -> int:
        store = SpolisStore(args.db)
        service = SpolisService(store, Knobs(args.latency_ms, args.fault_rate))
        server = ServerThread(service.app(), args.host, args.port, name="spolis").start()
        print(f"SPOLIS simulator on {server.url}/soap/spolis (WSDL at ?wsdl), store {args.db}", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        server.stop()
        store.close()
        return 0


SIMULATOR = SpolisSimulator()
