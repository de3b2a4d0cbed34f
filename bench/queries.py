"""Per-person queries as social workers make them: EP51 from SOPA to VSAA through a gateway and a
worker process (signatures required), at 1, 10 and 50 callers at once, held against the same
queries sent straight to the VSAA simulator in the same run.

The direct call is what the hub itself sends VSAA: the query in a SOAP request with the VISS header
from `hub`, signed with the hub's key (the simulator serves only the hub's signed calls), posted by
the same load generator with the same callers. The simulator adds no latency of its own, so the
difference between the two is what the hub adds. The same person codes go both ways, so the
simulator does the same work; at each caller count the direct run goes first, then the hub's, so
that both meet the machine in the same state."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.vsaa.dialect import query_to_xml
from bench.environment import Bench, cpu_seconds
from bench.raw import sopa_request
from bench.stages import load, percentile
from bench.table import goal, ms
from hub.canonical.queries import GrantedBenefitsQuery
from hub.simulation.people import person_code
from hub.soap.envelope import build_envelope
from hub.soap.header import MessageHeader
from hub.soap.signature import Signer

CALLERS = (1, 10, 50)
SHARE = (1, 2, 5)  # queries sent at each caller count, in units of the size's `queries`
PURPOSE = "sociālās palīdzības lēmuma sagatavošana"
USER = "rsd.soc.darbinieks.014"
P99_RATIO = 2.0  # at 10 callers: the hub's p99 at most this many times the direct p99
THROUGHPUT_SHARE = {10: 0.6, 50: 0.5}  # the hub's answers/s at least this share of the direct


@dataclass(frozen=True)
class Cpu:
    """CPU per answer of each process, from its own counters; None where it could not be read."""

    simulator: float | None = None
    gateway: float | None = None
    worker: float | None = None

    @property
    def total(self) -> float | None:
        spent = [us for us in (self.simulator, self.gateway, self.worker) if us is not None]
        return sum(spent) if spent else None


@dataclass(frozen=True)
class Timing:
    answers: int
    per_s: float
    p50_s: float
    p99_s: float
    cpu_us: Cpu


@dataclass(frozen=True)
class QueryFigures:
    """One caller count; the ratios are taken within the run, so that a median over runs is one of ratios."""

    callers: int
    direct: Timing  # straight to the VSAA simulator, signed as the hub signs
    hub: Timing  # SOPA → gateway → broker → worker → VSAA and back
    throughput_share: float  # the hub's answers/s over the direct ones
    p99_ratio: float  # the hub's p99 over the direct p99

    @classmethod
    def of(cls, callers: int, direct: Timing, hub: Timing) -> QueryFigures:
        return cls(callers, direct, hub, hub.per_s / direct.per_s, hub.p99_s / direct.p99_s)


def _queries(count: int, seed: int) -> list[GrantedBenefitsQuery]:
    rng, today = random.Random(seed), dt.date.today()
    return [GrantedBenefitsQuery(person_code=person_code(rng), as_of=today) for _ in range(count)]


def via_hub(signer: Signer, queries: list[GrantedBenefitsQuery]) -> list[tuple[str, bytes]]:
    """SOPA's requests to the gateway, signed by SOPA."""
    return [
        ("/soap/sopa", sopa_request(query_to_xml(query), "vsaa", signer=signer, purpose=PURPOSE)) for query in queries
    ]


def direct(signer: Signer, path: str, queries: list[GrantedBenefitsQuery]) -> list[tuple[str, bytes]]:
    """The requests the hub's worker sends VSAA for the same queries: its header, its signature."""
    requests = []
    for query in queries:
        body = query_to_xml(query)
        header = MessageHeader(
            message_id=uuid.uuid4(),
            message_type=MessageHeader.message_type_of(body),
            sender="hub",
            destination="vsaa",
            user_id=USER,
            purpose=PURPOSE,
        )
        requests.append((path, build_envelope(body, header, signer)))
    return requests


def _timing(
    bench: Bench, url: str, requests: list[tuple[str, bytes]], callers: int, name: str, pids: dict[str, int]
) -> Timing:
    before = {process: cpu_seconds(pid) for process, pid in pids.items()}
    report = load(bench, url, requests, callers, name)
    after = {process: cpu_seconds(pid) for process, pid in pids.items()}
    cpu_us = Cpu(
        **{
            process: (spent - begun) * 1e6 / len(requests)
            for process, begun in before.items()
            if begun is not None and (spent := after[process]) is not None
        }
    )
    latencies = report["latencies"]
    seconds = report["ended"] - report["started"]
    return Timing(
        len(requests), len(requests) / seconds, percentile(latencies, 0.5), percentile(latencies, 0.99), cpu_us
    )


def measure(bench: Bench) -> list[QueryFigures]:
    endpoint = bench.simulator("vsaa")
    pids = {"simulator": bench.processes[-1].pid}
    vsaa = urlsplit(endpoint)
    vsaa_base, vsaa_path = f"{vsaa.scheme}://{vsaa.netloc}", vsaa.path
    env = bench.hub_env("queries", HUB_ENDPOINTS__VSAA=endpoint)
    url = bench.hub("gateway-queries", "gateway", env)
    pids["gateway"] = bench.processes[-1].pid
    bench.hub("worker-queries", "worker", env)
    pids["worker"] = bench.processes[-1].pid
    sopa, hub = bench.signer("sopa"), bench.signer("hub")
    warm = _queries(20, seed=0)  # the first calls connect, both ways
    load(bench, vsaa_base, direct(hub, vsaa_path, warm), concurrency=2, name="queries-direct-warm")
    load(bench, url, via_hub(sopa, warm), concurrency=2, name="queries-warm")
    figures = []
    for callers, share in zip(CALLERS, SHARE, strict=True):
        queries = _queries(bench.size.queries * share, seed=callers)
        reference = _timing(
            bench, vsaa_base, direct(hub, vsaa_path, queries), callers, f"queries-direct-{callers}", pids
        )
        through = _timing(bench, url, via_hub(sopa, queries), callers, f"queries-{callers}", pids)
        figures.append(QueryFigures.of(callers, reference, through))
    return figures


def _verdict(q: QueryFigures) -> str:
    verdicts = []
    if q.callers == 10:
        verdicts.append(goal(q.p99_ratio <= P99_RATIO, f"p99 ≤ {P99_RATIO:g}× direct"))
    if q.callers in THROUGHPUT_SHARE:
        share = THROUGHPUT_SHARE[q.callers]
        verdicts.append(goal(q.throughput_share >= share, f"answers/s ≥ {share:.0%} of direct"))
    return "; ".join(verdicts)


def render(figures: list[QueryFigures]) -> list[str]:
    lines = [
        "## Per-person queries (EP51, SOPA → VSAA, through the broker, against VSAA called directly)",
        "",
        "Direct: the same queries posted straight to the VSAA simulator, signed as the hub signs, by the",
        "same load generator with the same callers, just before the hub's run.",
        "",
        "| callers at once | answers | answers/s direct | answers/s hub | hub/direct | p50 direct | p50 hub "
        "| p99 direct | p99 hub | hub/direct | goal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for q in figures:
        d, h = q.direct, q.hub
        lines.append(
            f"| {q.callers} | {h.answers:,} | {d.per_s:,.0f} | {h.per_s:,.0f} | {q.throughput_share:.0%} "
            f"| {ms(d.p50_s)} | {ms(h.p50_s)} | {ms(d.p99_s)} | {ms(h.p99_s)} | ×{q.p99_ratio:.1f} | {_verdict(q)} |"
        )
    lines += [
        "",
        "CPU per answer, from each process's own counters (the load generator's not counted): the simulator",
        "does the same work both ways; the gateway and the worker are what the hub adds, each signing once",
        "(the answer to SOPA, the call to VSAA), which the direct run does not do: its requests are signed",
        "beforehand, as SOPA's to the gateway are.",
        "",
        "| callers at once | direct: simulator | hub: gateway | hub: worker | hub: simulator | hub: all three |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for q in figures:
        d, h = q.direct.cpu_us, q.hub.cpu_us
        lines.append(
            f"| {q.callers} | {_us(d.simulator)} | {_us(h.gateway)} | {_us(h.worker)} | {_us(h.simulator)} "
            f"| {_us(h.total)} |"
        )
    return [*lines, ""]


def _us(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} µs"
