"""One table for one run: the raw limits, the hub by stage, the peers, the queries and the backlog,
with every ratio taken between figures of that same run, and each goal marked met or not."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib.metadata import version

from bench import backlog, queries
from bench.backlog import BacklogFigures
from bench.queries import QueryFigures
from bench.raw import PREFETCH, RawLimits
from bench.refusals import RefusalFigures
from bench.stages import Throughput
from bench.table import goal, ms

PACKAGES = ("lxml", "pika", "kombu", "cryptography", "pydantic", "zeep", "xmlschema", "celery", "uvicorn")


@dataclass
class Results:
    size: str
    machine: str
    raw: RawLimits | None = None
    ingest: dict[int, Throughput] = field(default_factory=dict)  # by the gateway's preparing processes
    delivery: Throughput | None = None
    e2e: dict[int, Throughput] = field(default_factory=dict)  # by worker processes
    naive: Throughput | None = None
    celery: Throughput | None = None
    queries: list[QueryFigures] = field(default_factory=list)
    refusals: RefusalFigures | None = None
    backlog: BacklogFigures | None = None


def render(r: Results) -> str:
    lines = [
        f"# Benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, size {r.size}",
        "",
        f"{r.machine}; " + ", ".join(f"{name} {version(name)}" for name in PACKAGES) + ".",
        "Every hub process runs as in production: signatures required both ways, RabbitMQ, quorum queues,",
        "payloads sealed, the SQLite store. Peers do less (no signatures, no status, no sealing).",
        "",
    ]
    raw = r.raw
    if raw:
        lines += [
            "## Raw limits (the libraries alone, one core)",
            "",
            "| measure | figure |",
            "| --- | --- |",
            f"| lxml hardened parse + XSD validation, per record (loads of 100) | {raw.parse_validate_us:.1f} µs |",
            f"| pika publish, confirms pipelined (1,000 in flight), quorum queue, {raw.body_bytes} B | "
            f"{raw.publish_per_s:,.0f} msg/s |",
            f"| pika consume, manual ack each, prefetch {PREFETCH} (as the workers) | {raw.consume_per_s:,.0f} msg/s |",
            f"| lxml build + validate + serialise SPOLIS's request, per record | {raw.build_us:.1f} µs "
            f"(zeep, no validation: {raw.zeep_build_us:.1f} µs) |",
            f"| ingest limit: parse + validate + publish | {raw.ingest_per_s:,.0f} records/s |",
            f"| delivery limit: consume + build | {raw.delivery_per_s:,.0f} records/s |",
            "",
        ]
    lines += [
        "## The hub",
        "",
        "| stage | records | records/s | p50 | p99 | ratio | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for processes, figure in sorted(r.ingest.items()):
        share = figure.per_s / raw.ingest_per_s if raw else 0.0
        how = f"1 process + {processes} preparing" if processes else "1 process, loads prepared in its threads"
        verdict = goal(share >= 0.5, "≥ 50%") if processes == max(r.ingest) else "for comparison"
        lines.append(
            f"| gateway ingest ({how}, after a tenth as many untimed; latency per request of 100) "
            f"| {figure.records:,} | {figure.per_s:,.0f} | {ms(figure.p50_s)} | {ms(figure.p99_s)} "
            f"| {share:.0%} of the ingest limit | {verdict} |"
        )
    if r.delivery:
        share = r.delivery.per_s / raw.delivery_per_s if raw else 0.0
        lines.append(
            f"| worker delivery (1 process, to a sink) | {r.delivery.records:,} | {r.delivery.per_s:,.0f} | | | "
            f"{share:.0%} of the delivery limit | {goal(share >= 0.5, '≥ 50%')} |"
        )
    one = r.e2e.get(1)
    for workers, figure in sorted(r.e2e.items()):
        scaling = f"×{figure.per_s / one.per_s:.2f} of 1 worker" if one and workers > 1 else ""
        lines.append(
            f"| end to end into the SPOLIS simulator, gateway + {workers} worker process{'es' if workers > 1 else ''} "
            f"(latency receipt to target) | {figure.records:,} | {figure.per_s:,.0f} | {ms(figure.p50_s)} | "
            f"{ms(figure.p99_s)} | {scaling} | |"
        )
    lines.append("")
    cpu = [(p, f.cpu_us) for p, f in sorted(r.ingest.items()) if f.cpu_us is not None]
    if cpu and raw:
        spent = "; ".join(
            f"{us:,.0f} µs {'with ' + str(p) + ' preparing processes' if p else 'in its threads'}" for p, us in cpu
        )
        lines += [
            f"Gateway CPU per record, all its processes: {spent}. The ingest limit takes "
            f"{1e6 / raw.ingest_per_s:,.0f} µs a record on one core, publishing a message per record "
            "(the gateway publishes one per load).",
            "",
        ]
    if one and (r.naive or r.celery):
        lines += [
            "## Peers doing the same work on the same broker",
            "",
            "| pipeline | records | records/s | hub / peer | goal |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, figure, wanted in (
            ("naive (zeep, xmlschema, confirm per message, zeep call per record)", r.naive, 5),
            ("Celery (task per record, 2 prefork processes)", r.celery, 2),
        ):
            if figure:
                ratio = one.per_s / figure.per_s
                lines.append(
                    f"| {name} | {figure.records:,} | {figure.per_s:,.0f} | ×{ratio:.1f} | "
                    f"{goal(ratio >= wanted, f'≥ ×{wanted}')} |"
                )
        lines.append("")
    if r.queries:
        lines += queries.render(r.queries)
    if r.refusals:
        f = r.refusals
        lines += [
            "## Requests made to cost CPU before authentication (only SOPA's public certificate)",
            "",
            f"| request | size | refused in, median of {f.rounds} | slowest of {f.rounds} | goal |",
            "| --- | --- | --- | --- | --- |",
        ]
        for refusal in f.refusals:
            forged = refusal.name.endswith("forged signature value")
            verdict = (
                goal(refusal.p50_s <= 2 * f.forged_parse_s, f"≤ ×2 its bare parse ({ms(f.forged_parse_s)})")
                if forged
                else goal(refusal.p50_s < 0.1, "median < 100 ms")
            )
            lines.append(
                f"| {refusal.name} | {refusal.kib:,} KiB | {ms(refusal.p50_s)} | {ms(refusal.max_s)} | {verdict} |"
            )
        ratio = f.receipt_attacked_s / f.receipt_alone_s
        lines += [
            "",
            f"A real load of 100 records got its receipt in {ms(f.receipt_alone_s)} (median) with nobody attacking "
            f"and in {ms(f.receipt_attacked_s)} while four senders kept sending the requests above (×{ratio:.1f}, "
            f"the gateway's one core shared with them); {f.receipts_attacked} receipts, "
            f"{goal(f.faults_attacked == 0, f'{f.faults_attacked} refused')}.",
            "",
        ]
    if r.backlog:
        lines += backlog.render(r.backlog)
    return "\n".join(lines)
