"""Per-person queries as social workers make them: EP51 from SOPA to VSAA through a gateway and a
worker process (signatures required), at 1, 10 and 50 callers at once. The VSAA simulator adds no
latency of its own, so the times are the hub's (and the simulator's work)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from adapters.vsaa.dialect import query_to_xml
from bench.environment import Bench
from bench.raw import sopa_request
from bench.stages import load, percentile
from bench.table import goal, ms
from hub.canonical.queries import GrantedBenefitsQuery
from hub.simulation.people import person_code

CALLERS = (1, 10, 50)


@dataclass(frozen=True)
class QueryFigures:
    callers: int
    answers: int
    per_s: float
    p50_s: float
    p99_s: float


def signed_queries(bench: Bench, count: int, seed: int) -> list[tuple[str, bytes]]:
    signer = bench.signer("sopa")
    rng, today = random.Random(seed), dt.date.today()
    requests = []
    for _ in range(count):
        body = query_to_xml(GrantedBenefitsQuery(person_code=person_code(rng), as_of=today))
        purpose = "sociālās palīdzības lēmuma sagatavošana"
        requests.append(("/soap/sopa", sopa_request(body, "vsaa", signer=signer, purpose=purpose)))
    return requests


def measure(bench: Bench) -> list[QueryFigures]:
    vsaa = bench.simulator("vsaa")
    env = bench.hub_env("queries", HUB_ENDPOINTS__VSAA=vsaa)
    url = bench.hub("gateway-queries", "gateway", env)
    bench.hub("worker-queries", "worker", env)
    load(bench, url, signed_queries(bench, 20, seed=0), concurrency=2, name="queries-warm")  # first calls connect
    figures = []
    for callers, share in zip(CALLERS, (1, 2, 5), strict=True):
        count = bench.size.queries * share
        report = load(bench, url, signed_queries(bench, count, seed=callers), callers, f"queries-{callers}")
        latencies = report["latencies"]
        seconds = report["ended"] - report["started"]
        figures.append(
            QueryFigures(callers, count, count / seconds, percentile(latencies, 0.5), percentile(latencies, 0.99))
        )
    return figures


def render(figures: list[QueryFigures]) -> list[str]:
    lines = [
        "## Per-person queries (EP51, SOPA → VSAA, through the broker)",
        "",
        "| callers at once | answers | answers/s | p50 | p99 | goal |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for q in figures:
        verdict = goal(q.p99_s < 0.1, "p99 < 100 ms") if q.callers == 10 else ""
        lines.append(f"| {q.callers} | {q.answers:,} | {q.per_s:,.0f} | {ms(q.p50_s)} | {ms(q.p99_s)} | {verdict} |")
    return [*lines, ""]
