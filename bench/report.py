"""One table for one run: the raw limits, the hub by stage, the peers, the queries and the backlog,
with every ratio taken between figures of that same run, and each goal marked met or not."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib.metadata import version

from bench.backlog import BacklogFigures
from bench.queries import QueryFigures
from bench.raw import PREFETCH, RawLimits
from bench.refusals import RefusalFigures
from bench.stages import Throughput

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


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _goal(met: bool, text: str) -> str:
    return f"{'met' if met else 'NOT met'}: {text}"


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
        goal = _goal(share >= 0.5, "≥ 50%") if processes == max(r.ingest) else "for comparison"
        lines.append(
            f"| gateway ingest ({how}, after a tenth as many untimed; latency per request of 100) "
            f"| {figure.records:,} | {figure.per_s:,.0f} | {_ms(figure.p50_s)} | {_ms(figure.p99_s)} "
            f"| {share:.0%} of the ingest limit | {goal} |"
        )
    if r.delivery:
        share = r.delivery.per_s / raw.delivery_per_s if raw else 0.0
        lines.append(
            f"| worker delivery (1 process, to a sink) | {r.delivery.records:,} | {r.delivery.per_s:,.0f} | | | "
            f"{share:.0%} of the delivery limit | {_goal(share >= 0.5, '≥ 50%')} |"
        )
    one = r.e2e.get(1)
    for workers, figure in sorted(r.e2e.items()):
        scaling = f"×{figure.per_s / one.per_s:.2f} of 1 worker" if one and workers > 1 else ""
        lines.append(
            f"| end to end into the SPOLIS simulator, gateway + {workers} worker process{'es' if workers > 1 else ''} "
            f"(latency receipt to target) | {figure.records:,} | {figure.per_s:,.0f} | {_ms(figure.p50_s)} | "
            f"{_ms(figure.p99_s)} | {scaling} | |"
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
        for name, figure, goal in (
            ("naive (zeep, xmlschema, confirm per message, zeep call per record)", r.naive, 5),
            ("Celery (task per record, 2 prefork processes)", r.celery, 2),
        ):
            if figure:
                ratio = one.per_s / figure.per_s
                lines.append(
                    f"| {name} | {figure.records:,} | {figure.per_s:,.0f} | ×{ratio:.1f} | "
                    f"{_goal(ratio >= goal, f'≥ ×{goal}')} |"
                )
        lines.append("")
    if r.queries:
        lines += [
            "## Per-person queries (EP51, SOPA → VSAA, through the broker)",
            "",
            "| callers at once | answers | answers/s | p50 | p99 | goal |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for q in r.queries:
            goal = _goal(q.p99_s < 0.1, "p99 < 100 ms") if q.callers == 10 else ""
            lines.append(f"| {q.callers} | {q.answers:,} | {q.per_s:,.0f} | {_ms(q.p50_s)} | {_ms(q.p99_s)} | {goal} |")
        lines.append("")
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
            goal = (
                _goal(refusal.p50_s <= 2 * f.forged_parse_s, f"≤ ×2 its bare parse ({_ms(f.forged_parse_s)})")
                if forged
                else _goal(refusal.p50_s < 0.1, "median < 100 ms")
            )
            lines.append(
                f"| {refusal.name} | {refusal.kib:,} KiB | {_ms(refusal.p50_s)} | {_ms(refusal.max_s)} | {goal} |"
            )
        ratio = f.receipt_attacked_s / f.receipt_alone_s
        lines += [
            "",
            f"A real load of 100 records got its receipt in {_ms(f.receipt_alone_s)} (median) with nobody attacking "
            f"and in {_ms(f.receipt_attacked_s)} while four senders kept sending the requests above (×{ratio:.1f}, "
            f"the gateway's one core shared with them); {f.receipts_attacked} receipts, "
            f"{_goal(f.faults_attacked == 0, f'{f.faults_attacked} refused')}.",
            "",
        ]
    if r.backlog:
        b = r.backlog
        flat = b.rss_max_mb < 150 and b.rss_end_mb - b.rss_start_mb < 20
        lines += [
            "## A worker's memory with a backlog",
            "",
            "| backlog | filled in | delivered while watched | RSS at start | max | at the end | goal |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| {b.backlog:,} | {b.seconds_to_fill:.0f} s | {b.delivered:,} in {b.watched_seconds:.0f} s | "
            f"{b.rss_start_mb:.0f} MB | {b.rss_max_mb:.0f} MB | {b.rss_end_mb:.0f} MB | "
            f"{_goal(flat, 'flat, under 150 MB')} |",
            "",
        ]
    return "\n".join(lines)
