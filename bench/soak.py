"""A soak: the hub as deployed (a gateway with its pool of preparing processes, two workers) delivering
into the SPOLIS simulator for as long as asked, at half the throughput it reached end to end in a short
calibration of the same run, while every hub process is sampled every few seconds. Memory must stay
flat and nothing else may grow (bench.resources), and every record sent must be delivered.

`python -m bench --soak [MINUTES]`; not part of the table nor of CI: an hour is what it is for."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from sqlalchemy import text

from adapters.sopa.dialect import from_canonical
from bench import loadgen
from bench.environment import Bench, wait_until
from bench.raw import RIGA, sopa_request
from bench.resources import Series, Watch, judged, table
from bench.stages import BATCH, CORES, load, signed_loads
from bench.table import goal
from hub.simulation.records import RecordFactory
from hub.store.db import create_store_engine

SHARE = 0.5  # of the calibrated throughput
WORKERS = 2
TICK = 1.0  # seconds between the steady load's sends
IN_FLIGHT = 4  # the steady load's requests in flight at most


class Steady:
    """Signed SOPA loads of BATCH records sent at a steady rate from a thread of the bench (not of the
    hub), built as they go: a long soak sends more loads than fit in memory, each with its own MessageID.
    Each second's loads go out through the load generator's senders, IN_FLIGHT at most at once."""

    def __init__(self, bench: Bench, url: str, records_per_s: float, seed: int) -> None:
        self.url = url
        self.loads_per_s = records_per_s / BATCH
        self.seed = seed
        self.signer = bench.signer("sopa")
        self.factory = RecordFactory(municipality=RIGA, record_prefix="S", decision_prefix="S", rng=random.Random(seed))
        self.sent = 0  # loads answered with a receipt
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-load", daemon=True)

    def start(self) -> Steady:
        self._thread.start()
        return self

    def stop(self) -> int:
        """Records sent and received; raises what stopped the sending early."""
        self._stop.set()
        self._thread.join()
        if self.failure is not None:
            raise RuntimeError("the steady load failed") from self.failure
        return self.sent * BATCH

    def _load(self) -> tuple[str, bytes]:
        body = from_canonical(self.factory.batch(BATCH), RIGA, f"SOAK-{self.seed}-{self.sent}")
        return "/soap/sopa", sopa_request(body, "spolis", signer=self.signer)

    def _run(self) -> None:
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * self.loads_per_s) - self.sent
                if due > 0:
                    loads = [self._load() for _ in range(min(due, max(1, round(2 * self.loads_per_s))))]
                    report = loadgen.run(self.url, loads, concurrency=min(len(loads), IN_FLIGHT))
                    if report["faults"]:
                        raise RuntimeError(f"loads refused, e.g. {report['faults'][0]}")  # type: ignore[index]
                    self.sent += len(loads)
                self._stop.wait(TICK)
        except BaseException as failure:
            self.failure = failure


class Delivered:
    """Counts the records the hub marked delivered in its store (whichever database): a count, as a
    soak's store holds millions of rows."""

    def __init__(self, store_url: str) -> None:
        self.engine = create_store_engine(store_url, create=False)

    def __call__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM message_status WHERE status = 'delivered'")).scalar())

    def close(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class SoakFigures:
    minutes: float
    calibrated_per_s: float  # records, end to end
    rate_per_s: float
    warm_up_s: float
    interval_s: float
    sent: int
    delivered: int
    series: list[Series]


def measure(bench: Bench, minutes: float) -> SoakFigures:
    stage = "soak"
    spolis = bench.simulator("spolis")
    env = bench.hub_env(stage, HUB_ENDPOINTS__SPOLIS=spolis, HUB_GATEWAY_PROCESSES=str(CORES))
    url = bench.hub("gateway-soak", "gateway", env)
    roots = {"gateway": bench.processes[-1].pid}
    for number in range(1, WORKERS + 1):
        bench.hub(f"worker-soak-{number}", "worker", env)
        roots[f"worker {number}"] = bench.processes[-1].pid
    count = Delivered(env["HUB_STORE_URL"])
    try:
        return _soak(bench, minutes, url, roots, count)
    finally:
        count.close()


def _soak(bench: Bench, minutes: float, url: str, roots: dict[str, int], count: Delivered) -> SoakFigures:
    records = bench.size.records
    report = load(bench, url, signed_loads(bench, records, seed=40), concurrency=4, name="soak-calibration")
    wait_until(lambda: count() >= records, 900, "the calibration delivered", bench.alive)
    per_s = records / (time.time() - report["started"])  # to within the polling's 50 ms

    seconds = minutes * 60
    warm_up, interval = min(60.0, max(2.0, seconds / 10)), min(5.0, max(0.5, seconds / 30))
    steady = Steady(bench, url, per_s * SHARE, seed=41).start()
    try:
        time.sleep(warm_up)
        bench.alive()
        processes = Watch(roots, allowance=IN_FLIGHT)
        processes.run(seconds, interval, bench.alive)
    finally:
        sent = steady.stop()
    wait_until(lambda: count() >= records + sent, 120 + seconds / 10, "the soak delivered", bench.alive)
    return SoakFigures(minutes, per_s, per_s * SHARE, warm_up, interval, sent, count() - records, processes.series)


def render(f: SoakFigures) -> list[str]:
    return [
        "## Every hub process in a soak",
        "",
        f"A gateway with {CORES} preparing processes and {WORKERS} workers delivering into the SPOLIS simulator: "
        f"{f.calibrated_per_s:,.0f} records/s end to end in a calibration, then {f.rate_per_s:,.0f} records/s "
        f"({SHARE:.0%}) for {f.minutes:g} min, every process sampled every {f.interval_s:g} s after a warm-up "
        f"of {f.warm_up_s:.0f} s. " + judged(IN_FLIGHT),
        "",
        *table(f.series),
        "",
        f"Records sent {f.sent:,}, delivered {f.delivered:,}: {goal(f.delivered == f.sent, 'every record delivered')}.",
        "",
    ]


def run(bench: Bench, minutes: float) -> list[str]:
    return render(measure(bench, minutes))
