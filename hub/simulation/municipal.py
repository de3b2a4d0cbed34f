"""The municipal systems' simulator: realistic data loads in the system's own dialect, sent to
the hub over HTTP, as `hub simulate sopa|lietis|gvs` and as the demo's load."""

from __future__ import annotations

import argparse
import random
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lxml import etree

from hub.canonical import CanonicalRecord, Municipality
from hub.simulation.client import HubClient, Submitted
from hub.simulation.records import RecordFactory

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
class MunicipalSimulator:
    system: str
    municipalities: tuple[Municipality, ...]
    build: BuildLoad
    record_prefix: str
    decision_prefix: str
    users: tuple[str, ...]
    destination: str = "spolis"

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
    ) -> LoadResult:
        """Send `records` in batches; a Fault that says "retry" is answered by resending the same
        message (same MessageID) up to `retries` times with a growing pause."""
        rng = random.Random(seed)
        result = LoadResult(self.system)
        lock = threading.Lock()
        local = threading.local()
        clients: list[HubClient] = []

        def client() -> HubClient:
            if not hasattr(local, "client"):
                local.client = HubClient(url, sender=self.system, retries=retries)
                with lock:
                    clients.append(local.client)
            return local.client

        def submit(load: tuple[etree._Element, int], user: str) -> None:
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

    # -- `hub simulate <system>` ---------------------------------------------------------------

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8080", help="the hub gateway's base URL")
        parser.add_argument("--records", type=int, default=1000)
        parser.add_argument("--batch-size", type=int, default=100, help="records per SOAP request (max 1000)")
        parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--unregistered-share",
            type=float,
            default=0.0,
            help="share of records naming a provider SPOLIS does not know (SPOLIS refuses them)",
        )

    def run(self, args: argparse.Namespace) -> int:
        result = self.send(
            args.url,
            records=args.records,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            seed=args.seed,
            unregistered_share=args.unregistered_share,
        )
        for submitted in result.submitted:
            if not submitted.accepted:
                print(f"refused {submitted.receipt_id}: {submitted.fault}", file=sys.stderr)
        print(
            f"{self.system}: sent={result.records_sent} accepted={result.records_accepted} "
            f"refused={result.records_refused} requests={len(result.submitted)}"
        )
        return 0 if result.records_refused == 0 else 1
