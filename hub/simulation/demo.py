"""`hub demo`: the whole flow F1 in one process, over real HTTP SOAP.

SPOLIS simulator, gateway and delivery workers start on free local ports (the embedded broker
unless HUB_BROKER_URL names RabbitMQ); SOPA, LIETIS and GVS simulators send their loads at the
same time; the demo waits until every accepted record is delivered or failed, checks SPOLIS's
own store, and prints one summary line. Signatures are required as in production (unless
HUB_SIGNATURES=off): the demo makes a throwaway development PKI for every system, the municipal
simulators sign what they send, and the SPOLIS simulator accepts only what the hub signed. Its
sealing, pseudonym and audit keys are throwaway too: made in memory for the run unless the
environment sets them, so the demo creates no key file (and has none to warn about).
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr
from tqdm import tqdm

from adapters.spolis.simulator import SpolisService
from hub import devpki
from hub.http_server import ServerThread
from hub.runtime import Hub
from hub.settings import Settings
from hub.simulation import pki
from hub.simulation.municipal import LoadResult, MunicipalSimulator
from hub.simulation.record_store import RecordStore
from hub.systems import SystemAdapter, discover

SOURCES = ("sopa", "lietis", "gvs")


def run_demo(settings: Settings, *, records: int, batch_size: int, timeout: float, workdir: Path | None = None) -> int:
    systems = discover()
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as tmp:
        work = workdir or Path(tmp)
        keys = work / "pki"
        if settings.signatures == "required":
            devpki.create(keys, ["hub", *sorted(systems)])  # every partner known, as `hub pki dev` makes them
        spolis_store = RecordStore(work / "spolis.sqlite3")
        spolis_service = SpolisService(spolis_store)
        spolis_service.server.verifier = pki.hub_verifier(keys)
        spolis = ServerThread(spolis_service.app(), name="spolis").start()
        settings = settings.model_copy(
            update={
                "partner_certs_dir": keys,
                "signing_key_file": keys / "hub.key",
                "signing_cert_file": keys / "hub.pem",
                "http_port": 0,
                "broker_prefix": f"{settings.broker_prefix}-demo-{uuid.uuid4().hex[:6]}",
                "store_url": f"sqlite:///{work / 'hub.sqlite3'}",
                "store_keys": settings.store_keys or SecretStr(Fernet.generate_key().decode()),
                "pseudonym_key": settings.pseudonym_key or SecretStr(secrets.token_hex(32)),
                "audit_key": settings.audit_key or SecretStr(secrets.token_hex(32)),
                "store_key_file": work / "store.key",
                "pseudonym_key_file": work / "pseudonym.key",
                "audit_key_file": work / "audit.key",
                "audit_checkpoint_file": work / "audit-checkpoints.jsonl",
                "endpoints": {**settings.endpoints, "spolis": f"{spolis.url}/soap/spolis"},
            }
        )
        hub = Hub(settings, systems)
        hub.broker.check()  # a wrong HUB_BROKER_URL is said in seconds, not after start's longer wait
        hub.start()
        try:
            hub.wait_until_consuming()
            print(
                f"hub demo: broker {hub.broker.description}, "
                f"gateway {hub.gateway_url}, SPOLIS simulator {spolis.url}, signatures {settings.signatures}",
                file=sys.stderr,
            )
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(SOURCES), thread_name_prefix="demo-load") as pool:
                futures = _send(pool, systems, hub.gateway_url, records, batch_size, keys)
                delivered, failed = _wait(hub, futures, records, timeout)
            results = [f.result() for f in futures]
            sent = sum(r.records_sent for r in results)
            accepted = sum(r.records_accepted for r in results)
            elapsed = time.monotonic() - started
            stats = spolis_store.stats()
        finally:
            hub.stop()
            hub.broker.delete(hub.topology)
            spolis.stop()
            spolis_store.close()
    refused = sent - accepted
    for r in results:
        print(
            f"  {r.system}: sent={r.records_sent} accepted={r.records_accepted} refused={r.records_refused}",
            file=sys.stderr,
        )
    print(
        f"  spolis store: records={stats['records']} duplicates={stats['duplicates']} rejected={stats['rejected']}",
        file=sys.stderr,
    )
    print(f"summary: sent={sent} delivered={delivered} failed={failed + refused} elapsed={elapsed:.1f}s")
    complete = delivered + failed == accepted and stats["records"] == delivered
    return 0 if complete and refused == 0 else 1


def _send(
    pool: ThreadPoolExecutor,
    systems: Mapping[str, SystemAdapter],
    url: str,
    records: int,
    batch_size: int,
    keys: Path,
) -> list[Future[LoadResult]]:
    share = [records // len(SOURCES) + (1 if i < records % len(SOURCES) else 0) for i in range(len(SOURCES))]
    futures = []
    for index, (name, n) in enumerate(zip(SOURCES, share, strict=True)):
        sim = systems[name].simulator
        assert isinstance(sim, MunicipalSimulator)
        signed = {"signer": pki.signer_for(name, keys), "hub_verifier": pki.hub_verifier(keys)}
        futures.append(
            pool.submit(sim.send, url, records=n, batch_size=batch_size, concurrency=2, seed=index, **signed)
        )
    return futures


def _wait(hub: Hub, sending: list[Future[LoadResult]], records: int, timeout: float) -> tuple[int, int]:
    """Progress until every sender finished and every accepted record is delivered or failed."""
    deadline = time.monotonic() + timeout
    with tqdm(total=records, desc="delivered", unit="rec", file=sys.stderr, disable=None) as bar:
        while True:
            counts = hub.store.counts()
            delivered, failed = counts.get("delivered", 0), counts.get("failed", 0)
            bar.update(delivered + failed - bar.n)
            if all(f.done() for f in sending):
                accepted = sum(f.result().records_accepted for f in sending if f.exception() is None)
                if delivered + failed >= accepted or time.monotonic() > deadline:
                    return delivered, failed
            elif time.monotonic() > deadline:
                return delivered, failed
            time.sleep(0.1)
