"""The hub by stage, each in its own processes as in production (signatures required, RabbitMQ,
quorum queues, the store the bench is given: SQLite or PostgreSQL):

- gateway ingest: signed SOAP data loads of 100 records in, records published and confirmed, with
  the loads prepared in the gateway's threads, and in its pool of one process per core;
- worker delivery: a backlog of sealed envelopes consumed, SPOLIS's request built, signed and sent
  to a sink that only reads the body, the records' status rows moved to delivered, then acked;
- end to end: loads in, records delivered into the SPOLIS simulator, with 1 and then 2 worker
  processes behind the same gateway.

Each stage first moves a tenth as many records untimed, then reads every process's CPU counters
(with its children) before and after the timed part: start-up and warm-up are not counted.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from adapters.sopa.dialect import from_canonical
from bench.environment import HTTP, Bench, cpu_seconds, wait_until
from bench.raw import RIGA, PipelinedPublisher, sopa_request
from hub.broker.rabbit import pika_parameters
from hub.envelope import Addressing, Envelope, utcnow
from hub.gateway.reader import record_message_ids
from hub.runtime import build
from hub.settings import Settings
from hub.simulation.records import RecordFactory
from hub.store.db import create_store_engine
from hub.store.status import RecordRow

BATCH = 100
HUB_ROLES = ("gateway", "workers")  # the hub's own processes; the simulator and the load generator are not
CORES = os.cpu_count() or 1  # the gateway's pool as production sets it: a process per core
HOLD_SECONDS = 120  # the worker's timeout for SPOLIS while the sink holds a call: the bench sees it long before


@dataclass(frozen=True)
class Throughput:
    records: int
    seconds: float
    p50_s: float | None = None
    p99_s: float | None = None
    cpu_us: dict[str, float] = field(default_factory=dict)  # CPU per record by role (HUB_ROLES and others)

    @property
    def per_s(self) -> float:
        return self.records / self.seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def signed_loads(bench: Bench, records: int, seed: int, *, signed: bool = True) -> list[tuple[str, bytes]]:
    """SOPA data loads of BATCH records, signed by SOPA beforehand (signing is the partner's work)."""
    signer = bench.signer("sopa") if signed else None
    factory = RecordFactory(municipality=RIGA, record_prefix="B", decision_prefix="B", rng=random.Random(seed))
    requests = []
    for number in range(records // BATCH):
        body = from_canonical(factory.batch(BATCH), RIGA, f"BENCH-{seed}-{number}")
        requests.append(("/soap/sopa", sopa_request(body, "spolis", signer=signer)))
    return requests


def load(bench: Bench, url: str, requests: list[tuple[str, bytes]], concurrency: int, name: str) -> dict:  # type: ignore[type-arg]
    """Run the load generator in its own process and return its report, with the CPU it spent (`cpu_s`)."""
    spec, out = bench.work / f"{name}.requests", bench.work / f"{name}.json"
    spec.write_bytes(pickle.dumps(requests))
    cpu = bench.run(
        f"loadgen-{name}",
        ["-m", "bench.loadgen", str(spec), str(out), "--url", url, "--concurrency", str(concurrency)],
        timeout=1800,
    )
    report = {**json.loads(out.read_text(encoding="utf-8")), "cpu_s": cpu}
    if report["faults"]:
        raise RuntimeError(f"{len(report['faults'])} requests refused, e.g. {report['faults'][0]}")
    return report


def gateway_ingest(bench: Bench, processes: int) -> Throughput:
    """`processes`: the gateway's pool preparing the loads (HUB_GATEWAY_PROCESSES); 0 for its threads.

    A tenth of the loads goes first, untimed: the raw limits it is held against are measured warm
    (medians of repeated runs), and a gateway at month end has been running for days."""
    records = bench.size.records
    requests = signed_loads(bench, records, seed=1)
    name = f"ingest{processes}"
    url = bench.hub(f"gateway-{name}", "gateway", bench.hub_env(name, HUB_GATEWAY_PROCESSES=str(processes)))
    gateway = bench.processes[-1].pid
    load(bench, url, signed_loads(bench, max(records // 10, BATCH), seed=2), concurrency=4, name=f"{name}-warm-up")
    cpu = CpuWindow({"gateway": [gateway]})
    report = load(bench, url, requests, concurrency=4, name=name)
    latencies = report["latencies"]
    return Throughput(
        records,
        report["ended"] - report["started"],
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        {**cpu.per_record(records), "load generator": report["cpu_s"] * 1e6 / records},
    )


class CpuWindow:
    """CPU seconds of groups of processes (each with its children) from now until `per_record`."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.before = {name: self._read(pids) for name, pids in groups.items()}

    @staticmethod
    def _read(pids: list[int]) -> float:
        seconds = [cpu_seconds(pid) for pid in pids]
        if None in seconds:
            raise RuntimeError("no CPU counters for a measured process (not Linux, or it ended)")
        return sum(s for s in seconds if s is not None)

    def per_record(self, records: int) -> dict[str, float]:
        """Microseconds per record of each group since the window opened."""
        if records <= 0:
            raise RuntimeError("no records went through while the CPU was counted: a larger --size")
        return {name: (self._read(pids) - self.before[name]) * 1e6 / records for name, pids in self.groups.items()}


def fill_backlog(bench: Bench, stage: str, count: int) -> None:
    """`count` sealed envelopes waiting in the stage's SPOLIS delivery queue, each with the status row
    the gateway would have stored for it (a load of BATCH records per receipt, with the ids the
    gateway gives, so that a load's rows sit together in the store's index), so that a worker takes
    the path it takes in production: it moves the rows of what it delivered."""
    settings = Settings(
        broker_url=bench.amqp_url,
        broker_prefix=bench.broker_prefix(stage),
        signatures="off",
        store_url=bench.store_url(stage),
        store_key_file=bench.store_key,
    )
    parts = build(settings)
    parts.broker.declare(parts.topology)
    codec, store = bench.codec(), parts.store
    factory = RecordFactory(municipality=RIGA, record_prefix="D", decision_prefix="D", rng=random.Random(3))
    templates = factory.batch(min(count, 1000))

    def bodies() -> Iterator[bytes]:
        for start in range(0, count, BATCH):
            receipt = uuid.uuid4()
            addressing: Addressing = {"source": "sopa", "target": "spolis", "user_id": "u", "correlation_id": receipt}
            message_id = record_message_ids(receipt)
            span = range(start, min(start + BATCH, count))
            envelopes = [
                Envelope.of(templates[n % len(templates)], **addressing, message_id=message_id(n - start + 1))
                for n in span
            ]
            rows = [
                RecordRow(str(e.message_id), index, e.payload["record_id"], e.target, e.type)
                for index, e in enumerate(envelopes, start=1)
            ]
            store.add_pending(str(receipt), "sopa", rows, utcnow())
            yield from (codec.message(e, "", "").body for e in envelopes)

    (parameters,) = pika_parameters(bench.amqp_url, "bench-backlog")
    try:
        PipelinedPublisher(parameters, parts.topology.delivery_queue("spolis"), bodies(), count).run()
    finally:
        parts.close()


def start_sink(bench: Bench) -> str:
    return bench.listening(
        "sink",
        lambda port: bench.start(f"sink-{port}", ["-m", "bench.sink", str(port)]),
        lambda url: HTTP.get(f"{url}/count").status_code == 200,
        20,
    )


def sink_count(url: str) -> tuple[int, float]:
    """Records answered, and the seconds from the first request to the last, less any hold."""
    count, seconds = HTTP.get(f"{url}/count").text.split()
    return int(count), float(seconds)


def worker_delivery(bench: Bench) -> Throughput:
    """The rate from the sink's first request to its last; the CPU from the end of the first tenth of
    the backlog (at least a call's batch) on, over at least four batches. The sink holds the call that
    ends the first tenth while the CPU window opens, so the window starts at a known count however
    fast the worker goes and however late the bench looks."""
    batch = Settings.model_fields["delivery_batch_size"].default
    records = max(bench.size.records, 4 * batch)
    warm = max(records // 10, batch)
    fill_backlog(bench, "delivery", warm + records)
    sink = start_sink(bench)
    HTTP.get(f"{sink}/hold", params={"at": warm}).raise_for_status()
    env = bench.hub_env(
        "delivery", HUB_ENDPOINTS__SPOLIS=f"{sink}/soap/spolis", HUB_TARGET_TIMEOUT_SECONDS=str(HOLD_SECONDS)
    )
    bench.hub("worker-delivery", "worker", env)
    worker = bench.processes[-1].pid
    wait_until(lambda: HTTP.get(f"{sink}/held").text, 600, "the first tenth delivered", bench.alive)
    counted = int(HTTP.get(f"{sink}/held").text)
    cpu = CpuWindow({"workers": [worker]})
    HTTP.get(f"{sink}/release").raise_for_status()
    wait_until(lambda: sink_count(sink)[0] >= warm + records, 600, "the backlog delivered", bench.alive)
    engine = create_store_engine(bench.store_url("delivery"), create=False)
    try:  # the rows of the last call are moved once SPOLIS answered it: a record's work ends there
        with engine.connect() as conn:
            wait_until(lambda: delivered_now(conn) >= warm + records, 60, "every record's row moved", bench.alive)
    finally:
        engine.dispose()
    count, seconds = sink_count(sink)
    return Throughput(count, seconds, cpu_us=cpu.per_record(count - counted))


def delivered(bench: Bench, stage: str, since: float = 0.0) -> tuple[int, list[float], float]:
    """Records the hub marked delivered that it accepted from `since` (epoch seconds) on, each one's
    seconds from receipt to target, and the last time one was delivered."""
    engine = create_store_engine(bench.store_url(stage), create=False)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT accepted_at, updated_at FROM message_status WHERE status = 'delivered'")
            ).all()
    finally:
        engine.dispose()

    def epoch(value: object) -> float:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

    times = [(epoch(a), epoch(b)) for a, b in rows if epoch(a) >= since]
    return len(times), [b - a for a, b in times], max((b for _, b in times), default=0.0)


def delivered_now(conn: Connection) -> int:
    """Records delivered so far; each count its own transaction, so that it sees the latest."""
    count = int(conn.execute(text("SELECT count(*) FROM message_status WHERE status = 'delivered'")).scalar_one())
    conn.rollback()
    return count


def end_to_end(bench: Bench, workers: tuple[int, ...] = (1, 2)) -> dict[int, Throughput]:
    """One gateway and SPOLIS simulator, with as many worker processes as each of `workers` says in
    turn (more started between). For each: a tenth as many records first, untimed and delivered; then
    the timed records, with the CPU of the gateway (its preparing processes included), the workers,
    the simulator and the load generator over them, from just before they are sent until the last
    is delivered."""
    stage = "e2e"
    spolis = bench.simulator("spolis")
    simulator = bench.processes[-1].pid
    env = bench.hub_env(stage, HUB_ENDPOINTS__SPOLIS=spolis, HUB_GATEWAY_PROCESSES=str(CORES))
    url = bench.hub(f"gateway-{stage}", "gateway", env)
    gateway, started = bench.processes[-1].pid, []
    figures = {}
    store = create_store_engine(bench.store_url(stage), create=False)
    try:
        with store.connect() as conn:
            for count in workers:
                while len(started) < count:
                    bench.hub(f"worker-{stage}-{len(started)}", "worker", env)
                    started.append(bench.processes[-1].pid)
                groups = {"gateway": [gateway], "workers": started, "SPOLIS simulator": [simulator]}
                figures[count] = _delivered_through(bench, conn, url, groups, seed=10 + count, stage=stage)
    finally:
        store.dispose()
    return figures


def _delivered_through(
    bench: Bench, conn: Connection, url: str, groups: dict[str, list[int]], seed: int, stage: str
) -> Throughput:
    records = bench.size.records
    warm = max(records // 10, BATCH)
    requests = signed_loads(bench, records, seed=seed)
    before = delivered_now(conn)
    load(bench, url, signed_loads(bench, warm, seed=seed + 100), concurrency=4, name=f"{stage}-{seed}-warm-up")
    wait_until(lambda: delivered_now(conn) >= before + warm, 900, "the warm-up delivered", bench.alive)
    cpu = CpuWindow(groups)
    report = load(bench, url, requests, concurrency=4, name=f"{stage}-{seed}")
    while delivered_now(conn) < before + warm + records:
        bench.alive()
        if time.time() - report["started"] > 900:
            raise TimeoutError("not every record delivered within 900 s")
        time.sleep(0.2)
    spent = {**cpu.per_record(records), "load generator": report["cpu_s"] * 1e6 / records}
    count, latencies, last = delivered(bench, stage, since=report["started"])
    return Throughput(count, last - report["started"], statistics.median(latencies), percentile(latencies, 0.99), spent)
