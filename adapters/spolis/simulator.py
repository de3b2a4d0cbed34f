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
import datetime as dt
import signal
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from starlette.applications import Starlette

from adapters.spolis.outbound import ANSWER, NS, SUBMIT
from hub.http_server import ServerThread
from hub.simulation.records import providers
from hub.simulation.soap_server import Knobs, SoapServer

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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS current (source TEXT, source_record_id TEXT, message_id TEXT,"
            " decided_at TEXT, PRIMARY KEY (source, source_record_id))"
        )
        self._lock = threading.Lock()

    def store(self, rows: list[tuple[str, str, str, str, str, str, bytes]]) -> list[bool]:
        """True for each row stored now, False for one already held."""
        fresh: list[bool] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stale = 0
                for row in rows:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO records (message_id, source, source_record_id, kind, person_code,"
                        " decided_at, xml) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    fresh.append(cursor.rowcount == 1)
                    if cursor.rowcount == 1:
                        stale += self._keep_latest(row[1], row[2], row[0], row[5])
                self._count("duplicates", fresh.count(False))
                self._count("stale_versions", stale)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return fresh

    def _keep_latest(self, source: str, record_id: str, message_id: str, decided_at: str) -> int:
        """Make this version current unless a later decision is; 1 when it arrived stale."""
        when = dt.datetime.fromisoformat(decided_at).astimezone(dt.UTC).isoformat()
        cursor = self._db.execute(
            "INSERT INTO current (source, source_record_id, message_id, decided_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(source, source_record_id) DO UPDATE SET message_id = excluded.message_id,"
            " decided_at = excluded.decided_at WHERE excluded.decided_at > current.decided_at",
            (source, record_id, message_id, when),
        )
        return 1 if cursor.rowcount == 0 else 0

    def current(self, source: str, record_id: str) -> str | None:
        """The message id of the version SPOLIS holds as current for a source record."""
        with self._lock:
            row = self._db.execute(
                "SELECT message_id FROM current WHERE source = ? AND source_record_id = ?", (source, record_id)
            ).fetchone()
        return row[0] if row else None

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
        names = ("duplicates", "rejected", "calls", "faults_injected", "timeouts_injected", "stale_versions")
        return {"records": records, **{name: counters.get(name, 0) for name in names}}

    def message_ids(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT message_id FROM records")]

    def close(self) -> None:
        self._db.close()


@dataclass
class SpolisKnobs(Knobs):
    extra_providers: list[str] = field(default_factory=list)  # registered while running (fixing the target)


class SpolisService:
    def __init__(self, store: SpolisStore, knobs: SpolisKnobs | None = None, *, seed: int | None = None) -> None:
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


class SpolisSimulator:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8091)
        parser.add_argument("--db", type=Path, default=Path("var/spolis.sqlite3"), help="the simulator's store")
        parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
        parser.add_argument("--fault-rate", type=float, default=0.0, help="share of calls answered with a Server fault")
        parser.add_argument("--timeout-rate", type=float, default=0.0, help="share of calls answered too late")

    def run(self, args: argparse.Namespace) -> int:
        store = SpolisStore(args.db)
        service = SpolisService(store, SpolisKnobs(args.latency_ms, args.fault_rate, args.timeout_rate))
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
