"""The pipeline limit: the two raw stages running at the same time on this machine's cores, each in
its own OS process, through one quorum queue, as the hub's gateway and worker do:

- raw ingest (`python -m bench.pipeline ingest ...`): parse and validate SOPA loads of 100 records
  and publish a message per record (the sealed envelope's size) with pipelined confirms;
- raw delivery (`python -m bench.pipeline deliver ...`): consume with the workers' prefetch, ack each
  message, and build, validate and serialise SPOLIS's request for every 100 records.

The limit is the records per second out of the delivery end, from its first message to its last:
what the raw work of both stages reaches when they share the cores (and RabbitMQ) as the hub does.
Each process also reports the CPU it spent per record, from its own counters.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika

from bench.environment import Bench
from bench.outbound_build import envelopes, lxml_builder
from bench.raw import BATCH_OF, Cost, ParseValidate, PipelinedPublisher, consume, declare, envelope_body, sopa_load
from hub.broker.rabbit import pika_parameters


@dataclass(frozen=True)
class PipelineLimit:
    records: int
    per_s: float  # out of the delivery end
    ingest_cpu_us: float  # per record, the raw ingest process
    delivery_cpu_us: float  # per record, the raw delivery process


def ingest(url: str, queue: str, count: int, body: bytes) -> Cost:
    work = ParseValidate()
    loads = [sopa_load(BATCH_OF, seed)[0] for seed in range(10)]

    def bodies() -> Iterator[bytes]:
        for n in range(count):
            if n % BATCH_OF == 0:
                work(loads[n // BATCH_OF % len(loads)])
            yield body

    (parameters,) = pika_parameters(url, "bench-pipeline")
    publisher = PipelinedPublisher(parameters, queue, bodies(), count)
    publisher.run()
    return publisher.cost


def deliver(url: str, queue: str, count: int) -> Cost:
    batch = envelopes(BATCH_OF)
    builder = lxml_builder()

    def each(taken: int) -> None:
        if taken % BATCH_OF == 0 or taken == count:
            builder(batch if taken % BATCH_OF == 0 else batch[: taken % BATCH_OF])

    return consume(url, queue, count, each)


def measure(bench: Bench) -> PipelineLimit:
    """Start the delivery end, then run the ingest end; both on one fresh quorum queue."""
    queue, count = f"{bench.prefix}-pipeline-{bench.round}", bench.size.records
    declare(bench.amqp_url, queue)
    body = bench.work / "pipeline.body"
    body.write_bytes(envelope_body(bench.codec()))
    out = {role: bench.work / f"pipeline-{role}.json" for role in ("ingest", "deliver")}
    common = [bench.amqp_url, queue, str(count)]
    delivery = bench.start("pipeline-deliver", ["-m", "bench.pipeline", "deliver", *common, str(out["deliver"])])
    try:
        bench.run("pipeline-ingest", ["-m", "bench.pipeline", "ingest", *common, str(out["ingest"]), str(body)], 600)
        if delivery.wait(timeout=600) != 0:
            raise RuntimeError(f"raw delivery failed: {(bench.work / 'pipeline-deliver.log').read_text()[-2000:]}")
    finally:
        bench.processes.remove(delivery)
        with pika.BlockingConnection(pika_parameters(bench.amqp_url, "bench-pipeline")[0]) as connection:
            connection.channel().queue_delete(queue)
    ingested, delivered = (json.loads(out[role].read_text()) for role in ("ingest", "deliver"))
    return PipelineLimit(count, 1e6 / delivered["wall_us"], ingested["cpu_us"], delivered["cpu_us"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("role", choices=("ingest", "deliver"))
    parser.add_argument("url")
    parser.add_argument("queue")
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("body", type=Path, nargs="?", help="the message body to publish (ingest)")
    args = parser.parse_args()
    if args.role == "ingest":
        cost = ingest(args.url, args.queue, args.count, args.body.read_bytes())
    else:
        cost = deliver(args.url, args.queue, args.count)
    args.out.write_text(json.dumps({"wall_us": cost.wall_us, "cpu_us": cost.cpu_us}), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
