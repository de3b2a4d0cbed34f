"""The hub by stage, each in its own processes as in production (signatures required, RabbitMQ,
quorum queues, the SQLite store):

- gateway ingest: signed SOAP data loads of 100 records in, records published and confirmed, with
  the loads prepared in the gateway's threads, and in its pool of one process per core;
- worker delivery: a backlog of sealed envelopes consumed, SPOLIS's request built, signed and sent
  to a sink that only reads the body, then acked;
- end to end: loads in, records delivered into the SPOLIS simulator, with 1 and 2 worker processes.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from adapters.sopa.dialect import from_canonical
from bench.environment import HTTP, Bench, cpu_seconds, free_port, wait_until
from bench.raw import RIGA, PipelinedPublisher, sopa_request
from hub.broker.rabbit import pika_parameters
from hub.envelope import Envelope
from hub.runtime import build
from hub.settings import Settings
from hub.simulation.records import RecordFactory

BATCH = 100
CORES = os.cpu_count() or 1  # the gateway's pool as production sets it: a process per core


@dataclass(frozen=True)
class Throughput:
    records: int
    seconds: float
    p50_s: float | None = None
    p99_s: float | None = None
    cpu_us: float | None = None  # CPU per record of the measured process and its children

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
    """Run the load generator in its own process and return its report."""
    spec, out = bench.work / f"{name}.requests", bench.work / f"{name}.json"
    spec.write_bytes(pickle.dumps(requests))
    bench.run(
        f"loadgen-{name}",
        ["-m", "bench.loadgen", str(spec), str(out), "--url", url, "--concurrency", str(concurrency)],
        timeout=1800,
    )
    report = json.loads(out.read_text(encoding="utf-8"))
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
    cpu_before = cpu_seconds(gateway)
    report = load(bench, url, requests, concurrency=4, name=name)
    cpu_after = cpu_seconds(gateway)
    latencies = report["latencies"]
    cpu_us = (cpu_after - cpu_before) * 1e6 / records if cpu_before is not None and cpu_after is not None else None
    return Throughput(
        records, report["ended"] - report["started"], percentile(latencies, 0.5), percentile(latencies, 0.99), cpu_us
    )


def fill_backlog(bench: Bench, stage: str, count: int) -> None:
    """`count` sealed envelopes waiting in the stage's SPOLIS delivery queue."""
    settings = Settings(broker_url=bench.amqp_url, broker_prefix=f"{bench.prefix}-{stage}", signatures="off")
    parts = build(settings)
    parts.broker.declare(parts.topology)
    topology = parts.topology
    codec = bench.codec()
    factory = RecordFactory(municipality=RIGA, record_prefix="D", decision_prefix="D", rng=random.Random(3))
    receipt = uuid.uuid4()
    templates = factory.batch(min(count, 1000))
    bodies = iter(
        codec.message(
            Envelope.of(
                templates[n % len(templates)], source="sopa", target="spolis", user_id="u", correlation_id=receipt
            ),
            "",
            "",
        ).body
        for n in range(count)
    )
    (parameters,) = pika_parameters(bench.amqp_url, "bench-backlog")
    PipelinedPublisher(parameters, topology.delivery_queue("spolis"), bodies, count).run()


def start_sink(bench: Bench) -> str:
    port = free_port()
    bench.start(f"sink-{port}", ["-m", "bench.sink", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: HTTP.get(f"{url}/count").status_code == 200, 20, "sink", bench.alive)
    return url


def sink_count(url: str) -> tuple[int, float, float]:
    """Records answered, and when the first and the last request came (epoch seconds)."""
    count, first, last = HTTP.get(f"{url}/count").text.split()
    return int(count), float(first), float(last)


def worker_delivery(bench: Bench) -> Throughput:
    records = bench.size.records
    fill_backlog(bench, "delivery", records)
    sink = start_sink(bench)
    env = bench.hub_env("delivery", HUB_ENDPOINTS__SPOLIS=f"{sink}/soap/spolis")
    bench.hub("worker-delivery", "worker", env)
    wait_until(lambda: sink_count(sink)[0] >= records, 600, "the backlog delivered", bench.alive)
    count, first, last = sink_count(sink)
    return Throughput(count, last - first)


def delivered(store: Path) -> tuple[int, list[float], float]:
    """Records the hub marked delivered, each one's seconds from receipt to target, the last time."""
    engine = create_engine(f"sqlite:///{store}")
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

    latencies = [epoch(b) - epoch(a) for a, b in rows]
    return len(rows), latencies, max((epoch(b) for _, b in rows), default=0.0)


def end_to_end(bench: Bench, workers: int) -> Throughput:
    records = bench.size.records
    stage = f"e2e{workers}"
    spolis = bench.simulator("spolis")
    env = bench.hub_env(stage, HUB_ENDPOINTS__SPOLIS=spolis, HUB_GATEWAY_PROCESSES=str(CORES))
    url = bench.hub(f"gateway-{stage}", "gateway", env)
    for number in range(workers):
        bench.hub(f"worker-{stage}-{number}", "worker", env)
    requests = signed_loads(bench, records, seed=10 + workers)
    report = load(bench, url, requests, concurrency=4, name=stage)
    store = bench.work / f"{stage}.sqlite3"
    wait_until(lambda: delivered(store)[0] >= records, 900, "every record delivered", bench.alive)
    count, latencies, last = delivered(store)
    return Throughput(count, last - report["started"], statistics.median(latencies), percentile(latencies, 0.99))
