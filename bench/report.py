"""One table for one run: the raw limits, the hub by stage, the peers, the queries and the backlog,
with every ratio taken between figures of the same repeat, and each goal marked met or not. A
section run several times shows the median of each figure with its spread; verdicts read the
median."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

from bench import backlog, queries
from bench.backlog import BacklogFigures
from bench.machine import Busyness
from bench.pipeline import PipelineLimit
from bench.queries import QueryFigures
from bench.raw import PREFETCH, RawLimits
from bench.refusals import RefusalFigures
from bench.stages import HUB_ROLES, Throughput
from bench.table import goal, median, median_figures, ms, spread

PACKAGES = ("lxml", "pika", "kombu", "cryptography", "pydantic", "zeep", "xmlschema", "celery", "uvicorn")
GATEWAY_CPU, WORKERS_CPU, HUB_CPU = 1.5, 1.2, 1.3  # at most this many times the raw limits' CPU per record
PIPELINE_SHARE = 0.6  # end to end, gateway + 2 workers: at least this share of the pipeline limit


@dataclass
class Round:
    """One repeat of every section."""

    raw: RawLimits | None = None
    pipeline: PipelineLimit | None = None
    ingest: dict[str, dict[int, Throughput]] = field(default_factory=dict)  # by store, then preparing processes
    delivery: dict[str, Throughput] = field(default_factory=dict)  # by store
    e2e: dict[str, dict[int, Throughput]] = field(default_factory=dict)  # by store, then worker processes
    naive: Throughput | None = None
    celery: Throughput | None = None
    queries: list[QueryFigures] | None = None
    refusals: RefusalFigures | None = None
    backlog: BacklogFigures | None = None
    busy: dict[tuple[str, str], Busyness] = field(default_factory=dict)  # by section and store


@dataclass
class Results:
    size: str
    machine: str
    stores: list[str]
    rounds: list[Round] = field(default_factory=list)


def across(rounds: list[Round], figure: Callable[[Round], float | None]) -> list[float]:
    """A figure of each round that has it."""
    values = []
    for r in rounds:
        try:
            value = figure(r)
        except (KeyError, AttributeError, TypeError, ZeroDivisionError):
            continue
        if value is not None:
            values.append(value)
    return values


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _us(value: float) -> str:
    return f"{value:,.0f} µs" if value >= 10 else f"{value:.1f} µs"


def _x(value: float) -> str:
    return f"×{value:.2f}"


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _ms(value: float) -> str:
    return ms(value)


def _hub_cpu(t: Throughput) -> float:
    return sum(t.cpu_us[role] for role in HUB_ROLES)


def render(r: Results) -> str:
    rounds = r.rounds
    lines = [
        f"# Benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, size {r.size}",
        "",
        f"{r.machine}; " + ", ".join(f"{name} {version(name)}" for name in PACKAGES) + ".",
        "Every hub process runs as in production: signatures required both ways, RabbitMQ, quorum queues,",
        f"payloads sealed, the store as named ({', '.join(r.stores)}). Peers do less (no signatures, no status, "
        "no sealing).",
        f"Each section ran {len(rounds)} time{'s' if len(rounds) > 1 else ''} (the backlog in the first round only): "
        "every figure is the median, with the lowest–highest in brackets; ratios are taken within one round, "
        "verdicts on their median. CPU is read from each process's own counters (user + system, its children "
        "included), not from the clock.",
        "",
    ]
    lines += _raw(rounds)
    lines += _hub(r)
    lines += _e2e_cpu(r)
    lines += _peers(r)
    answered = [q for q in (x.queries for x in rounds) if q]
    if answered:
        lines += queries.render(median_figures(answered))
    lines += _refusals(rounds)
    drained = [b for b in (x.backlog for x in rounds) if b]
    if drained:
        lines += backlog.render(median_figures(drained))
    lines += _busy(rounds)
    return "\n".join(lines)


def _raw(rounds: list[Round]) -> list[str]:
    if not any(x.raw for x in rounds) and not any(x.pipeline for x in rounds):
        return []

    def raw(f: Callable[[RawLimits], float]) -> Callable[[Round], float | None]:
        return lambda x: f(x.raw) if x.raw else None

    lines = [
        "## Raw limits (the libraries alone, one process each)",
        "",
        "| measure | rate | wall per record | CPU per record |",
        "| --- | --- | --- | --- |",
    ]
    if any(x.raw for x in rounds):
        body = next(x.raw.body_bytes for x in rounds if x.raw)
        rows: list[tuple[str, Callable[[RawLimits], float] | None, Callable[[RawLimits], float] | None, Callable]] = [
            (
                "lxml hardened parse + XSD validation, per record (loads of 100)",
                None,
                lambda w: w.parse_validate.wall_us,
                lambda w: w.parse_validate.cpu_us,
            ),
            (
                f"pika publish, confirms pipelined (1,000 in flight), quorum queue, {body} B, per message",
                lambda w: w.publish_per_s,
                lambda w: w.publish.wall_us,
                lambda w: w.publish.cpu_us,
            ),
            (
                f"pika consume, manual ack each, prefetch {PREFETCH} (as the workers), per message",
                lambda w: w.consume_per_s,
                lambda w: w.consume.wall_us,
                lambda w: w.consume.cpu_us,
            ),
            (
                "lxml build + validate + serialise SPOLIS's request, per record",
                None,
                lambda w: w.build.wall_us,
                lambda w: w.build.cpu_us,
            ),
            (
                "**ingest limit**: parse + validate + publish (a message per record)",
                lambda w: w.ingest_per_s,
                lambda w: 1e6 / w.ingest_per_s,
                lambda w: w.ingest_cpu_us,
            ),
            (
                "ingest's cryptography: the signature checked (exclusive C14N of the Body, SHA-256, RSA-2048), the "
                "Body digested again for the receipt, the request and the bundle sealed (AES-GCM), the receipt "
                "signed (RSA-2048), per record of loads of 100",
                None,
                lambda w: w.cryptography.wall_us,
                lambda w: w.cryptography.cpu_us,
            ),
            (
                "**ingest limit with its cryptography**: parse + validate + publish + the above",
                None,
                None,
                lambda w: w.ingest_with_cryptography_cpu_us,
            ),
            (
                "the mapping: SOPA's fields read into validated canonical models (the hub's adapter), per record",
                None,
                lambda w: w.mapping.wall_us,
                lambda w: w.mapping.cpu_us,
            ),
            (
                "the status rows: each record's row stored (the hub's store, SQLite, a load's rows in one "
                "transaction), per record",
                None,
                lambda w: w.status_rows.wall_us,
                lambda w: w.status_rows.cpu_us,
            ),
            (
                "**the gateway's floor**: parse + validate + its cryptography + the mapping + the status rows; "
                "what its promises cost at the least, with no HTTP, staging or publishing",
                None,
                None,
                lambda w: w.gateway_floor_cpu_us,
            ),
            (
                "**delivery limit**: consume + build",
                lambda w: w.delivery_per_s,
                lambda w: 1e6 / w.delivery_per_s,
                lambda w: w.delivery_cpu_us,
            ),
        ]
        for name, rate, wall, cpu in rows:
            rate_text = spread(across(rounds, raw(rate)), _n) + " /s" if rate else ""
            wall_text = spread(across(rounds, raw(wall)), _us) if wall else ""
            lines.append(f"| {name} | {rate_text} | {wall_text} | {spread(across(rounds, raw(cpu)), _us)} |")
        zeep = spread(across(rounds, raw(lambda w: w.zeep_build_us)), _us)
        lines.append(f"| zeep building the same request, no validation, per record (for comparison) | | {zeep} | |")
    if any(x.pipeline for x in rounds):
        rate = spread(across(rounds, lambda x: x.pipeline.per_s), _n)
        ingest = spread(across(rounds, lambda x: x.pipeline.ingest_cpu_us), _us)
        delivery = spread(across(rounds, lambda x: x.pipeline.delivery_cpu_us), _us)
        lines.append(
            "| **pipeline limit**: a raw ingest process and a raw delivery process at once through one quorum "
            f"queue, records/s out of the delivery end | {rate} /s | | ingest {ingest} + delivery {delivery} |"
        )
    return [*lines, ""]


def _hub(r: Results) -> list[str]:
    rounds = r.rounds
    if not any(x.ingest or x.delivery or x.e2e for x in rounds):
        return []
    lines = [
        "## The hub",
        "",
        "| stage | store | records | records/s | p50 | p99 | hub CPU per record | CPU against raw | rate against raw "
        "| goal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for store in r.stores:
        processes = sorted({n for x in rounds for n in x.ingest.get(store, {})})
        lines += [_ingest_row(rounds, store, n, n == max(processes)) for n in processes]
        if any(store in x.delivery for x in rounds):
            lines.append(_delivery_row(rounds, store))
        lines += [_e2e_row(rounds, store, n) for n in sorted({n for x in rounds for n in x.e2e.get(store, {})})]
    return [
        *lines,
        "",
        "CPU is counted over the timed records only, after a tenth as many went through untimed. The raw ingest "
        "limit publishes a message per record; the gateway publishes one per load.",
        "",
    ]


def _figures(rounds: list[Round], get: Callable[[Round], Throughput], cpu: Callable[[Throughput], float]) -> str:
    """A stage row's cells from the store column's right to the hub's CPU per record."""
    cells = [
        spread(across(rounds, lambda x: get(x).records), _n),
        spread(across(rounds, lambda x: get(x).per_s), _n),
        spread(across(rounds, lambda x: get(x).p50_s), _ms),
        spread(across(rounds, lambda x: get(x).p99_s), _ms),
        spread(across(rounds, lambda x: cpu(get(x))), _us),
    ]
    return " | ".join(cells)


def _ratios(cpu_ratio: list[float], raw: str, share: list[float], of: str, verdict: str) -> str:
    return f"{_against(cpu_ratio, raw)} | {spread(share, _pct)} {of if share else ''} | {verdict} |"


def _ingest_row(rounds: list[Round], store: str, n: int, judged: bool) -> str:
    how = f"1 process + {n} preparing" if n else "1 process, loads prepared in its threads"
    cpu_ratio = across(rounds, lambda x: x.ingest[store][n].cpu_us["gateway"] / x.raw.ingest_cpu_us)
    share = across(rounds, lambda x: x.ingest[store][n].per_s / x.raw.ingest_per_s)
    verdict = "for comparison"
    if judged and cpu_ratio:
        verdict = goal(median(cpu_ratio) <= GATEWAY_CPU, f"CPU ≤ ×{GATEWAY_CPU} raw ingest")
        verdict += _below_floor(_gateway_floor(rounds), GATEWAY_CPU)
    figures = _figures(rounds, lambda x: x.ingest[store][n], lambda t: t.cpu_us["gateway"])
    raw = _with_cryptography(rounds, lambda x: x.ingest[store][n])
    return (
        f"| gateway ingest ({how}; latency per request of 100) | {store} | {figures} "
        f"| {_ratios(cpu_ratio, raw, share, 'of the ingest limit', verdict)}"
    )


def _with_cryptography(rounds: list[Round], get: Callable[[Round], Throughput]) -> str:
    """The gateway's CPU against the raw ingest's, then against the raw ingest's with its cryptography."""
    ratios = across(rounds, lambda x: get(x).cpu_us["gateway"] / x.raw.ingest_with_cryptography_cpu_us)
    return f"raw ingest; {_against(ratios, 'with its cryptography')}"


def _gateway_floor(rounds: list[Round]) -> list[float]:
    """The gateway's floor against the raw ingest's CPU, per round."""
    return across(rounds, lambda x: x.raw.gateway_floor_cpu_us / x.raw.ingest_cpu_us)


def _hub_floor(rounds: list[Round]) -> list[float]:
    """The hub's floor against the raw limits': the gateway at its floor, the workers at the raw delivery."""
    return across(rounds, lambda x: (x.raw.gateway_floor_cpu_us + x.raw.delivery_cpu_us) / _raw_both(x))


def _below_floor(floor: list[float], limit: float) -> str:
    """Beside a verdict: the goal asks for less than the floor itself costs, so no code can meet it."""
    return f" (below the floor, ×{median(floor):.2f})" if floor and median(floor) > limit else ""


def _delivery_row(rounds: list[Round], store: str) -> str:
    cpu_ratio = across(rounds, lambda x: x.delivery[store].cpu_us["workers"] / x.raw.delivery_cpu_us)
    share = across(rounds, lambda x: x.delivery[store].per_s / x.raw.delivery_per_s)
    verdict = goal(median(cpu_ratio) <= WORKERS_CPU, f"CPU ≤ ×{WORKERS_CPU} raw delivery") if cpu_ratio else ""
    figures = _figures(rounds, lambda x: x.delivery[store], lambda t: t.cpu_us["workers"])
    return (
        f"| worker delivery (1 process, to a sink) | {store} | {figures} "
        f"| {_ratios(cpu_ratio, 'raw delivery', share, 'of the delivery limit', verdict)}"
    )


def _raw_both(x: Round) -> float:
    assert x.raw is not None
    return x.raw.ingest_cpu_us + x.raw.delivery_cpu_us


def _e2e_row(rounds: list[Round], store: str, n: int) -> str:
    cpu_ratio = across(rounds, lambda x: _hub_cpu(x.e2e[store][n]) / _raw_both(x))
    share = across(rounds, lambda x: x.e2e[store][n].per_s / x.pipeline.per_s)
    verdict = ""
    if n == 2:
        verdict = (
            goal(median(share) >= PIPELINE_SHARE, f"≥ {PIPELINE_SHARE:.0%} of the pipeline limit")
            if share
            else "no pipeline limit in this run (--only pipeline)"
        )
    figures = _figures(rounds, lambda x: x.e2e[store][n], _hub_cpu)
    return (
        f"| end to end into the SPOLIS simulator, gateway + {n} worker process{'es' if n > 1 else ''} "
        f"(latency receipt to target) | {store} | {figures} "
        f"| {_ratios(cpu_ratio, 'raw ingest + delivery', share, 'of the pipeline limit', verdict)}"
    )


def _e2e_cpu(r: Results) -> list[str]:
    rounds = r.rounds
    if not any(x.e2e for x in rounds):
        return []
    lines = [
        "## CPU per record end to end, by process (timed records only)",
        "",
        "| workers | store | gateway, its preparing processes included | workers | hub together "
        "| SPOLIS simulator (not counted) | load generator (not counted) | goal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for store in r.stores:
        lines += [_e2e_cpu_row(rounds, store, n) for n in sorted({n for x in rounds for n in x.e2e.get(store, {})})]
    return [*lines, ""]


def _e2e_cpu_row(rounds: list[Round], store: str, n: int) -> str:
    def cpu(role: str) -> str:
        return spread(across(rounds, lambda x: x.e2e[store][n].cpu_us[role]), _us)

    gateway = across(rounds, lambda x: x.e2e[store][n].cpu_us["gateway"] / x.raw.ingest_cpu_us)
    workers = across(rounds, lambda x: x.e2e[store][n].cpu_us["workers"] / x.raw.delivery_cpu_us)
    hub = across(rounds, lambda x: _hub_cpu(x.e2e[store][n]) / _raw_both(x))
    together = spread(across(rounds, lambda x: _hub_cpu(x.e2e[store][n])), _us)
    verdicts = "; ".join(
        goal(median(values) <= limit, f"{who} ≤ ×{limit}") + _below_floor(floor, limit)
        for who, values, limit, floor in (
            ("hub", hub, HUB_CPU, _hub_floor(rounds)),
            ("gateway", gateway, GATEWAY_CPU, _gateway_floor(rounds)),
            ("workers", workers, WORKERS_CPU, []),
        )
        if values
    )
    return (
        f"| {n} | {store} | {cpu('gateway')}; "
        f"{_against(gateway, _with_cryptography(rounds, lambda x: x.e2e[store][n]))} "
        f"| {cpu('workers')}; {_against(workers, 'raw delivery')} "
        f"| {together}; {_against(hub, 'raw ingest + delivery')} "
        f"| {cpu('SPOLIS simulator')} | {cpu('load generator')} | {verdicts} |"
    )


def _against(ratios: list[float], raw: str) -> str:
    return f"{spread(ratios, _x)} {raw}" if ratios else ""


def _peers(r: Results) -> list[str]:
    rounds, store = r.rounds, r.stores[0]
    if not any(x.naive or x.celery for x in rounds):
        return []
    lines = [
        "## Peers doing the same work on the same broker",
        "",
        f"| pipeline | records | records/s | hub / peer (end to end, 1 worker, {store}) | goal |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, get, wanted in (
        ("naive (zeep, xmlschema, confirm per message, zeep call per record)", lambda x: x.naive, 5),
        ("Celery (task per record, 2 prefork processes)", lambda x: x.celery, 2),
    ):
        rates = across(rounds, lambda x, get=get: get(x).per_s)  # type: ignore[misc]
        if not rates:
            continue
        ratios = across(rounds, lambda x, get=get: x.e2e[store][1].per_s / get(x).per_s)  # type: ignore[misc]
        verdict = goal(median(ratios) >= wanted, f"≥ ×{wanted}") if ratios else ""
        records = across(rounds, lambda x, get=get: get(x).records)  # type: ignore[misc]
        lines.append(
            f"| {name} | {spread(records, _n)} | {spread(rates, _n)} | {spread(ratios, lambda v: f'×{v:.1f}')} "
            f"| {verdict} |"
        )
    return [*lines, ""]


def _refusals(rounds: list[Round]) -> list[str]:
    runs = [x.refusals for x in rounds if x.refusals]
    if not runs:
        return []
    f = median_figures(runs)
    lines = [
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
    return [
        *lines,
        "",
        f"A real load of 100 records got its receipt in {ms(f.receipt_alone_s)} (median) with nobody attacking "
        f"and in {ms(f.receipt_attacked_s)} while four senders kept sending the requests above (×{ratio:.1f}, "
        f"the gateway's one core shared with them); {f.receipts_attacked} receipts, "
        f"{goal(f.faults_attacked == 0, f'{f.faults_attacked} refused')}"
        + (f"; each figure the median of {len(runs)} runs." if len(runs) > 1 else "."),
        "",
    ]


def _busy(rounds: list[Round]) -> list[str]:
    keys = list(dict.fromkeys(key for x in rounds for key in x.busy))
    if not keys:
        return []
    lines = [
        "## How busy the machine was (shares of all its CPUs while each section ran)",
        "",
        "| section | store | took | steal | the bench's processes | RabbitMQ (beam.smp) | PostgreSQL "
        "| other processes | idle |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for section, store in keys:

        def share(f: Callable[[Busyness], float], key: tuple[str, str] = (section, store)) -> str:
            return spread(across(rounds, lambda x: f(x.busy[key])), _pct)

        took = spread(across(rounds, lambda x, k=(section, store): x.busy[k].seconds), lambda v: f"{v:,.0f} s")  # type: ignore[misc]
        lines.append(
            f"| {section} | {store} | {took} | {share(lambda b: b.steal)} | {share(lambda b: b.bench)} "
            f"| {share(lambda b: b.rabbitmq)} | {share(lambda b: b.postgresql)} | {share(lambda b: b.other)} "
            f"| {share(lambda b: b.idle)} |"
        )
    return [
        *lines,
        "",
        "Other processes' CPU is what the kernel counted busy beyond the bench's own processes (the hub, its "
        "simulators and load generators, the bench), RabbitMQ and PostgreSQL: a run with much of it, or with "
        "steal, was measured on a noisy machine.",
        "",
    ]
