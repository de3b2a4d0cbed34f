"""A worker's memory with a huge backlog: the SPOLIS delivery queue holds a million sealed
envelopes (month end, every municipality at once, the target down all day), then one worker
process starts delivering them to the sink while its resident memory is read twice a second."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.environment import Bench, wait_until
from bench.stages import fill_backlog, sink_count, start_sink
from bench.table import goal


@dataclass(frozen=True)
class BacklogFigures:
    backlog: int
    seconds_to_fill: float
    delivered: int
    watched_seconds: float
    rss_start_mb: float  # once the worker consumes
    rss_max_mb: float
    rss_end_mb: float


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(bench: Bench) -> BacklogFigures:
    started = time.monotonic()
    fill_backlog(bench, "backlog", bench.size.backlog)
    filled = time.monotonic() - started
    sink = start_sink(bench)
    env = bench.hub_env("backlog", HUB_ENDPOINTS__SPOLIS=f"{sink}/soap/spolis")
    bench.hub("worker-backlog", "worker", env)
    pid = bench.processes[-1].pid
    wait_until(lambda: sink_count(sink)[0] > 0, 120, "the first delivery", bench.alive)
    samples = [rss_mb(pid)]
    watch_until = time.monotonic() + bench.size.backlog_seconds
    while time.monotonic() < watch_until and sink_count(sink)[0] < bench.size.backlog:
        time.sleep(0.5)
        samples.append(rss_mb(pid))
    return BacklogFigures(
        backlog=bench.size.backlog,
        seconds_to_fill=filled,
        delivered=sink_count(sink)[0],
        watched_seconds=bench.size.backlog_seconds,
        rss_start_mb=samples[0],
        rss_max_mb=max(samples),
        rss_end_mb=samples[-1],
    )


def render(b: BacklogFigures) -> list[str]:
    flat = b.rss_max_mb < 150 and b.rss_end_mb - b.rss_start_mb < 20
    return [
        "## A worker's memory with a backlog",
        "",
        "| backlog | filled in | delivered while watched | RSS at start | max | at the end | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {b.backlog:,} | {b.seconds_to_fill:.0f} s | {b.delivered:,} in {b.watched_seconds:.0f} s | "
        f"{b.rss_start_mb:.0f} MB | {b.rss_max_mb:.0f} MB | {b.rss_end_mb:.0f} MB | "
        f"{goal(flat, 'flat, under 150 MB')} |",
        "",
    ]
