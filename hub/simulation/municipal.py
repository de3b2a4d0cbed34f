"""The municipal systems' simulator: realistic data loads in the system's own dialect, sent to
the hub over HTTP, as `hub simulate sopa|lietis|gvs` and as the demo's load."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from hub.canonical import CanonicalRecord, Municipality
from hub.simulation import pki
from hub.simulation.client import HubClient, Submitted
from hub.simulation.record_store import RecordStore
from hub.simulation.records import RecordFactory
from hub.simulation.serve import serve_forever
from hub.simulation.soap_server import Knobs, SoapServer
from hub.soap.batch import TableBatch
from hub.soap.signature import SignatureVerifier, Signer
from hub.systems import DeliveryResult

BuildLoad = Callable[[Sequence[CanonicalRecord], Municipality, str], etree._Element]


@dataclass
class LoadResult:
    system: str
    submitted: list[Submitted] = field(default_factory=list)

    @property
    def records_accepted(self) -> int:
        return sum(s.records for s in self.submitted if s.accepted)

    @property
    def records_refused(self) -> int:
        return sum(s.records for s in self.submitted if not s.accepted)

    @property
    def records_sent(self) -> int:
        return sum(s.records for s in self.submitted)


@dataclass(frozen=True)
class Intake:
    """What the municipal system takes from the hub (NVA profiling, F6): `hub simulate <system> --serve`."""

    batch: TableBatch
    wsdl: str
    port: int

    def take(self, store: RecordStore, request: etree._Element) -> etree._Element:
        """Store each profile once and answer each: delivered the first time, a duplicate after."""
        rows = [
            (
                message["message_id"],
                "burvis",
                profile["record_id"],
                "employment_profiling",
                profile["person_code"],
                profile["decided_at"],
                etree.tostring(item),
            )
            for item, message, profile in self.batch.items(request)
        ]
        stored = store.store(rows)
        return self.batch.answer_with(
            DeliveryResult(uuid.UUID(row[0]), "delivered" if fresh else "duplicate")
            for row, fresh in zip(rows, stored, strict=True)
        )

    def service(self, system: str, store: RecordStore, knobs: Knobs | None = None) -> SoapServer:
        return SoapServer(
            system=system,
            schema=self.batch.schema,
            wsdl=self.wsdl,
            handlers={self.batch.request_tag: lambda request: self.take(store, request)},
            knobs=knobs,
            count=store.count,
            stats=store.stats,
        )


KINDS = ("data_load", "assistant_service", "cooperation_duties", "monthly_report")


@dataclass(frozen=True)
class MunicipalSimulator:
    system: str
    municipalities: tuple[Municipality, ...]
    build: BuildLoad
    record_prefix: str
    decision_prefix: str
    users: tuple[str, ...]
    destination: str = "spolis"
    intake: Intake | None = None

    def loads(
        self, records: int, batch_size: int, rng: random.Random, unregistered_share: float = 0.0
    ) -> Iterator[tuple[etree._Element, int]]:
        factories = [
            RecordFactory(
                municipality=m, record_prefix=self.record_prefix, decision_prefix=self.decision_prefix, rng=rng
            )
            for m in self.municipalities
        ]
        remaining, number = records, 0
        while remaining > 0:
            size = min(batch_size, remaining)
            factory = factories[number % len(factories)]
            number += 1
            batch = factory.batch(size, unregistered_share=unregistered_share)
            yield self.build(batch, factory.municipality, f"{self.record_prefix}-{factory.run_tag}-{number:05d}"), size
            remaining -= size

    def send(
        self,
        url: str,
        *,
        records: int,
        batch_size: int = 100,
        concurrency: int = 2,
        seed: int | None = None,
        progress: Callable[[Submitted], None] | None = None,
        retries: int = 5,
        unregistered_share: float = 0.0,
        signer: Signer | None = None,
        hub_verifier: SignatureVerifier | None = None,
        stop: threading.Event | None = None,
    ) -> LoadResult:
        """Send `records` in batches; a Fault that says "retry" is answered by resending the same
        message (same MessageID) up to `retries` times with a growing pause. `stop`: once set, nothing
        more is sent (what is in flight ends at its next answer)."""
        rng = random.Random(seed)
        result = LoadResult(self.system)
        lock = threading.Lock()
        local = threading.local()
        clients: list[HubClient] = []

        def client() -> HubClient:
            if not hasattr(local, "client"):
                local.client = HubClient(
                    url, sender=self.system, retries=retries, signer=signer, hub_verifier=hub_verifier, stop=stop
                )
                with lock:
                    clients.append(local.client)
            return local.client

        def submit(load: tuple[etree._Element, int], user: str) -> None:
            if stop is not None and stop.is_set():
                return
            body, size = load
            submitted = client().submit(body, destination=self.destination, user_id=user, records=size)
            with lock:
                result.submitted.append(submitted)
            if progress:
                progress(submitted)

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sim-{self.system}") as pool:
            for future in [
                pool.submit(submit, load, rng.choice(self.users))
                for load in self.loads(records, batch_size, rng, unregistered_share)
            ]:
                future.result()
        for c in clients:
            c.close()
        return result

    def send_kind(
        self,
        url: str,
        kind: str,
        records: int,
        rng: random.Random,
        signer: Signer | None = None,
        hub_verifier: SignatureVerifier | None = None,
    ) -> int:
        """Records of another system's format (F2, F7, F8), built by the service that defines it."""
        from hub.systems import discover

        type_, owner, service = next(
            (t, owner, service)
            for owner in discover().values()
            for service in owner.services
            for t in service.types
            if t.split(".")[1] == kind
        )
        assert service.from_canonical is not None
        municipality = self.municipalities[0]
        factory = RecordFactory(
            municipality=municipality, record_prefix=self.record_prefix, decision_prefix=self.decision_prefix, rng=rng
        )
        if kind == "monthly_report":
            month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
            loads = [[factory.monthly_report(month.year, month.month)]]
        else:
            made = [getattr(factory, kind)() for _ in range(records)]
            loads = [made[i : i + 100] for i in range(0, len(made), 100)]
        client = HubClient(url, sender=self.system, signer=signer, hub_verifier=hub_verifier)
        refused = 0
        try:
            for load in loads:
                body = service.from_canonical(load, municipality)
                submitted = client.submit(
                    body, destination=owner.name, user_id=rng.choice(self.users), records=len(load)
                )
                if not submitted.accepted:
                    refused += len(load)
                print_receipt(submitted)
        finally:
            client.close()
        sent = sum(len(load) for load in loads)
        print(f"{self.system}: {type_} sent={sent} accepted={sent - refused} refused={refused}")
        return 0 if not refused else 1

    # -- `hub simulate <system>` ---------------------------------------------------------------

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.intake is not None:
            parser.add_argument(
                "--serve", action="store_true", help="run the system's own intake service (F6) instead of sending"
            )
            parser.add_argument("--host", default="127.0.0.1", help="address the intake service listens on")
            parser.add_argument("--port", type=int, default=self.intake.port, help="port of the intake service")
            parser.add_argument(
                "--db", type=Path, default=Path(f"var/{self.system}.sqlite3"), help="the intake service's store"
            )
        parser.add_argument(
            "--kind",
            choices=KINDS,
            default="data_load",
            help="what to send: the system's own data load (F1), or another system's format (F2, F7, F8)",
        )
        parser.add_argument("--url", default="http://127.0.0.1:8080", help="the hub gateway's base URL")
        parser.add_argument("--records", type=int, default=1000, help="how many records to send")
        parser.add_argument("--batch-size", type=int, default=100, help="records per SOAP request (max 1000)")
        parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
        parser.add_argument(
            "--seed", type=int, default=None, help="random seed, for the same data every run (default: a new one)"
        )
        parser.add_argument(
            "--unregistered-share",
            type=float,
            default=0.0,
            help="share of records naming a provider SPOLIS does not know (SPOLIS refuses them)",
        )
        pki.add_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        if getattr(args, "serve", False) and self.intake is not None:
            store = RecordStore(args.db)
            server = self.intake.service(self.system, store)
            server.verifier = pki.hub_verifier(args.pki)
            title = f"{self.system.upper()} intake simulator"
            return serve_forever(server.app(), args.host, args.port, title, f"/soap/{self.system}", on_stop=store.close)
        signer, hub_verifier = pki.signer_for(self.system, args.pki), pki.hub_verifier(args.pki)
        if args.kind != "data_load":
            return self.send_kind(args.url, args.kind, args.records, random.Random(args.seed), signer, hub_verifier)
        result = self.send(
            args.url,
            records=args.records,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            seed=args.seed,
            progress=print_receipt,
            unregistered_share=args.unregistered_share,
            signer=signer,
            hub_verifier=hub_verifier,
        )
        print(
            f"{self.system}: sent={result.records_sent} accepted={result.records_accepted} "
            f"refused={result.records_refused} requests={len(result.submitted)}"
        )
        if result.records_accepted:
            print("what became of a load: hub status <receipt id>")
        return 0 if result.records_refused == 0 else 1


_PRINTING = threading.Lock()


def print_receipt(submitted: Submitted) -> None:
    """One line per request as its answer comes (from the sending threads): the receipt id is what
    `hub status` takes."""
    with _PRINTING:
        if submitted.accepted:
            print(f"receipt {submitted.receipt_id} records={submitted.records}", flush=True)
        else:
            print(f"refused {submitted.receipt_id}: {submitted.fault}", file=sys.stderr, flush=True)
