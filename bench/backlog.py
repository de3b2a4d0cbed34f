"""Every hub process's resources with a huge backlog: the SPOLIS delivery queue holds a million sealed
envelopes (month end, every municipality at once, the target down all day), then one worker process
delivers them to the sink while a gateway, with its pool of preparing processes, keeps taking a light
load; each process is sampled twice a second (bench.resources) and judged: memory flat, nothing grows."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.environment import Bench, wait_until
from bench.resources import Series, Watch, judged, table
from bench.soak import IN_FLIGHT, Steady
from bench.stages import CORES, fill_backlog, sink_count, start_sink

LIGHT = 200  # records/s into the gateway meanwhile: a municipality or two sending as on any day
INTERVAL = 0.5


@dataclass(frozen=True)
class BacklogFigures:
    backlog: int
    seconds_to_fill: float
    delivered: int  # by the end of the watch
    watched_seconds: float
    warm_up_s: float  # from the worker's first delivery to the first sample
    taken: int  # records the gateway took meanwhile
    series: list[Series]


def measure(bench: Bench) -> BacklogFigures:
    started = time.monotonic()
    fill_backlog(bench, "backlog", bench.size.backlog)
    filled = time.monotonic() - started
    sink = start_sink(bench)
    env = bench.hub_env("backlog", HUB_ENDPOINTS__SPOLIS=f"{sink}/soap/spolis", HUB_GATEWAY_PROCESSES=str(CORES))
    url = bench.hub("gateway-backlog", "gateway", env)
    roots = {"gateway": bench.processes[-1].pid}
    warm_up = bench.size.backlog_seconds / 10
    steady = Steady(bench, url, LIGHT, seed=50).start()
    try:
        bench.hub("worker-backlog", "worker", env)
        roots["worker"] = bench.processes[-1].pid
        wait_until(lambda: sink_count(sink)[0] > 0, 120, "the first delivery", bench.alive)
        time.sleep(warm_up)
        processes = Watch(roots, allowance=IN_FLIGHT)
        processes.run(bench.size.backlog_seconds, INTERVAL, bench.alive)
        delivered = sink_count(sink)[0]
    finally:
        taken = steady.stop()
    return BacklogFigures(
        backlog=bench.size.backlog,
        seconds_to_fill=filled,
        delivered=delivered,
        watched_seconds=bench.size.backlog_seconds,
        warm_up_s=warm_up,
        taken=taken,
        series=processes.series,
    )


def render(b: BacklogFigures) -> list[str]:
    return [
        "## Every hub process with a backlog",
        "",
        f"{b.backlog:,} sealed envelopes waiting for SPOLIS (filled in {b.seconds_to_fill:.0f} s); one worker "
        f"delivered {b.delivered:,} to a sink while a gateway with {CORES} preparing processes took "
        f"{b.taken:,} records ({LIGHT} a second). Every process sampled every {INTERVAL:g} s for "
        f"{b.watched_seconds:.0f} s, from {b.warm_up_s:g} s after the first delivery. " + judged(IN_FLIGHT),
        "",
        *table(b.series),
        "",
    ]
