"""`hub demo`: the whole flow F1 in one process, over real HTTP SOAP.

SPOLIS simulator, gateway and delivery workers start on free local ports (the embedded broker
unless HUB_BROKER_URL names RabbitMQ); SOPA, LIETIS and GVS simulators send their loads at the
same time; the demo waits until every accepted record is delivered or failed, checks SPOLIS's
own store, and prints one summary line.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from adapters.spolis.simulator import SpolisService
from hub.http_server import ServerThread
from hub.runtime import Hub, delete_queues
from hub.settings import Settings
from hub.simulation.municipal import LoadResult, MunicipalSimulator
from hub.simulation.record_store import RecordStore
from hub.systems import SystemAdapter, discover

SOURCES = ("sopa", "lietis", "gvs")


def run_demo(settings: Settings, *, records: int, batch_size: int, timeout: float, workdir: Path | None = None) -> int:
    systems = discover()
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as tmp:
        work = workdir or Path(tmp)
        spolis_store = RecordStore(work / "spolis.sqlite3")
        spolis = ServerThread(SpolisService(spolis_store).app(), name="spolis").start()
        settings = settings.model_copy(
            update={
                "http_port": 0,
                "broker_prefix": f"{settings.broker_prefix}-demo-{uuid.uuid4().hex[:6]}",
                "store_url": f"sqlite:///{work / 'hub.sqlite3'}",
                "store_key_file": work / "store.key",
                "pseudonym_key_file": work / "pseudonym.key",
                "endpoints": {**settings.endpoints, "spolis": f"{spolis.url}/soap/spolis"},
            }
        )
        hub = Hub(settings, systems).start()
        try:
            hub.wait_until_consuming()
            print(
                f"hub demo: broker {'embedded (memory://)' if settings.embedded_broker else 'RabbitMQ'}, "
                f"gateway {hub.gateway_url}, SPOLIS simulator {spolis.url}",
                file=sys.stderr,
            )
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(SOURCES), thread_name_prefix="demo-load") as pool:
                futures = _send(pool, systems, hub.gateway_url, records, batch_size)
                delivered, failed = _wait(hub, futures, records, timeout)
            results = [f.result() for f in futures]
            sent = sum(r.records_sent for r in results)
            accepted = sum(r.records_accepted for r in results)
            elapsed = time.monotonic() - started
            stats = spolis_store.stats()
        finally:
            hub.stop()
            delete_queues(settings.broker_url, hub.topology)
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
    pool: ThreadPoolExecutor, systems: Mapping[str, SystemAdapter], url: str, records: int, batch_size: int
) -> list[Future[LoadResult]]:
    share = [records // len(SOURCES) + (1 if i < records % len(SOURCES) else 0) for i in range(len(SOURCES))]
    simulators = [systems[name].simulator for name in SOURCES]
    assert all(isinstance(sim, MunicipalSimulator) for sim in simulators)
    return [
        pool.submit(sim.send, url, records=n, batch_size=batch_size, concurrency=2, seed=index)  # type: ignore[union-attr]
        for index, (sim, n) in enumerate(zip(simulators, share, strict=True))
    ]


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
