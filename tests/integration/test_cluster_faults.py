"""Fault tests on the production topology (`hub cluster dev`): three RabbitMQ nodes with the queues
replicated over all three, PostgreSQL, two gateways behind HAProxy, two workers, the SPOLIS
simulator, each its own process. The topology starts once for the module; each test sends records
from SOPA, LIETIS and GVS through the balancer, breaks one part mid-stream, and ends with SPOLIS's
own store holding each promised record exactly once, the hub's status store saying delivered, and
the workers' metrics counting as many deliveries as SPOLIS got records."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from hub.runtime import Components, build
from hub.simulation import pki
from hub.simulation.cluster import DevCluster
from hub.simulation.municipal import LoadResult
from hub.store.failed import Filter
from hub.systems import discover
from tests.helpers import metric, required_tool, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(600)]

RECORDS = 10_000
SOURCES = ("sopa", "lietis", "gvs")
DELIVERY_QUEUE = "hub.deliver.spolis"
PAUSE_SECONDS = 20


@pytest.fixture(scope="module")
def cluster() -> Iterator[DevCluster]:
    required_tool("haproxy", "haproxy")
    required_tool("rabbitmq-server", "rabbitmq-server")
    with DevCluster(simulated=("spolis",)) as started:
        yield started


@pytest.fixture(scope="module")
def parts(cluster: DevCluster) -> Iterator[Components]:
    """The hub's stores as `hub status` reads them, on the cluster's PostgreSQL."""
    made = build(cluster.settings)
    yield made
    made.close()


def spolis_ids(cluster: DevCluster) -> list[str]:
    """Every message id in SPOLIS's own store, read beside the running simulator."""
    with sqlite3.connect(f"file:{cluster.store_of('spolis')}?mode=ro", uri=True, timeout=30) as db:
        return [row[0] for row in db.execute("SELECT message_id FROM records")]


def spolis_count(cluster: DevCluster) -> int:
    with sqlite3.connect(f"file:{cluster.store_of('spolis')}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM records").fetchone()[0]


def delivered_metric(cluster: DevCluster) -> float:
    """Deliveries the workers counted, summed over both (neither is killed here)."""
    return sum(metric(worker.url, "hub_messages_delivered_total") for worker in cluster.workers)


@dataclass
class Before:
    """What SPOLIS, the workers' metrics and the status store held before a load."""

    spolis: set[str]
    delivered_metric: float
    statuses: dict[str, int]
    at: dt.datetime


def before(cluster: DevCluster, parts: Components) -> Before:
    return Before(set(spolis_ids(cluster)), delivered_metric(cluster), parts.store.counts(), dt.datetime.now(dt.UTC))


def settled(parts: Components, then: Before) -> dict[str, int]:
    """Records that reached a final status since `then`, by status."""
    now = parts.store.counts()
    return {s: now.get(s, 0) - then.statuses.get(s, 0) for s in ("delivered", "failed")}


@dataclass
class Load:
    """The three municipal simulators sending at once, in the background; `accepted` counts the records
    receipts were given for so far."""

    future: Future[list[LoadResult]]
    accepted: list[int]
    records: int
    then: Before
    stop: threading.Event


def start_load(cluster: DevCluster, records: int, seed: int, then: Before) -> Load:
    """Partners as in production: each signs with its key, checks the hub's signature on the answer
    and resends on "retry later" (same MessageID), as often as a broker failover may need."""
    systems = discover()
    pool = ThreadPoolExecutor(max_workers=len(SOURCES) + 1)
    accepted, stop = [0], threading.Event()

    def count(submitted) -> None:  # type: ignore[no-untyped-def]
        if submitted.accepted:
            accepted[0] += submitted.records

    def run() -> list[LoadResult]:
        share = [records // 3 + (1 if i < records % 3 else 0) for i in range(3)]
        futures = [
            pool.submit(
                systems[name].simulator.send,
                cluster.url,
                records=n,
                batch_size=100,
                concurrency=2,
                seed=seed + i,
                retries=15,
                progress=count,
                signer=pki.signer_for(name, cluster.pki),
                hub_verifier=pki.hub_verifier(cluster.pki),
                stop=stop,
            )
            for i, (name, n) in enumerate(zip(SOURCES, share, strict=True))
        ]
        return [f.result() for f in futures]

    return Load(pool.submit(run), accepted, records, then, stop)


def mid_stream(cluster: DevCluster, load: Load) -> None:
    """Until SPOLIS holds a fifth of the load: the fault comes with records on every side of the hub."""
    wait_for(lambda: spolis_count(cluster) - len(load.then.spolis) >= load.records // 5, timeout=120)
    assert spolis_count(cluster) - len(load.then.spolis) < load.records, "the fault must come mid-stream"


def assert_exactly_once(cluster: DevCluster, parts: Components, load: Load) -> None:
    then = load.then
    results = load.future.result(timeout=400)
    assert sum(r.records_refused for r in results) == 0, "every load must be accepted in the end"
    ids = {mid for r in results for s in r.submitted if s.accepted for mid in s.message_ids}
    assert len(ids) == load.records
    wait_for(lambda: sum(settled(parts, then).values()) == len(ids), timeout=300)
    assert settled(parts, then) == {"delivered": len(ids), "failed": 0}
    stored = spolis_ids(cluster)
    assert len(stored) == len(set(stored))
    assert set(stored) - then.spolis == ids, "SPOLIS holds each promised record, and nothing else new"
    wait_for(lambda: delivered_metric(cluster) - then.delivered_metric == len(ids), timeout=30)
    assert not parts.failed.find(Filter(since=then.at))


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def all_ready(cluster: DevCluster) -> bool:
    return all(ready(process.url) for process in cluster.hubs)


def scenario(cluster: DevCluster, parts: Components, seed: int, fault: Callable[[Load], None]) -> None:
    """Send, break something mid-stream, check; the cluster is whole again at the end."""
    wait_for(lambda: all_ready(cluster), timeout=120)
    started = time.monotonic()
    load = start_load(cluster, RECORDS, seed, before(cluster, parts))
    try:
        fault(load)
        assert_exactly_once(cluster, parts, load)
    finally:
        load.stop.set()  # a failed scenario's partners stop sending, or the session waits for their resends
    print(f"{RECORDS} records in {time.monotonic() - started:.1f} s")
    wait_for(lambda: all_ready(cluster), timeout=120)


def test_the_node_leading_the_delivery_queue_killed_and_restarted(cluster, parts):
    leader = cluster.rabbit.leader_of(DELIVERY_QUEUE)  # before the load: rabbitmqctl may take longer than it

    def fault(load: Load) -> None:
        mid_stream(cluster, load)
        leader.kill()
        wait_for(lambda: cluster.rabbit.leader_of(DELIVERY_QUEUE) is not leader, timeout=60)
        time.sleep(3)
        leader.start()

    scenario(cluster, parts, 100, fault)


def test_a_node_cut_off_from_the_others_and_its_clients_then_back(cluster, parts):
    """SIGSTOP: the node leading the delivery queue stops answering peers and clients alike, as behind
    a partition; the other two elect a new leader, the clients on it stall, time out and resend."""

    node = cluster.rabbit.leader_of(DELIVERY_QUEUE)  # before the load: rabbitmqctl may take longer than it

    def fault(load: Load) -> None:
        mid_stream(cluster, load)
        node.pause()
        try:
            time.sleep(PAUSE_SECONDS)
        finally:
            node.resume()
        # the queue must have moved to the majority; a node just resumed may still be listed for a moment
        wait_for(lambda: cluster.rabbit.leader_of(DELIVERY_QUEUE) is not node, timeout=30)

    scenario(cluster, parts, 200, fault)


def test_a_gateway_killed_behind_the_balancer_while_partners_send(cluster, parts):
    def fault(load: Load) -> None:
        wait_for(lambda: load.accepted[0] >= load.records // 5, timeout=120)
        assert load.accepted[0] < load.records, "the kill must come while partners send"
        gateway = cluster.gateways[0]
        gateway.kill()
        wait_for(lambda: load.accepted[0] >= load.records // 2 or load.future.done(), timeout=120)
        gateway.start().wait_ready()

    scenario(cluster, parts, 300, fault)


def test_postgresql_restarted_mid_stream(cluster, parts):
    def fault(load: Load) -> None:
        mid_stream(cluster, load)
        cluster.postgres.restart(immediate=True, down_seconds=3)

    scenario(cluster, parts, 400, fault)


def test_the_whole_rabbitmq_cluster_restarted_one_node_at_a_time(cluster, parts):
    def fault(load: Load) -> None:
        mid_stream(cluster, load)
        cluster.rabbit.rolling_restart()
        assert len(cluster.rabbit.running_nodes()) == 3

    scenario(cluster, parts, 500, fault)
