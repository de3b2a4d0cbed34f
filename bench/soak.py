"""A soak: the hub as deployed (a gateway with its pool of preparing processes, two workers) delivering
into the SPOLIS simulator for as long as asked, at half the throughput it reached end to end in a short
calibration of the same run, while every hub process is sampled every few seconds. Memory must stay
flat and nothing else may grow (bench.resources), and every record sent must be delivered.

`python -m bench --soak [MINUTES]`; not part of the table nor of CI: an hour is what it is for."""

from __future__ import annotations

import itertools
import math
import queue
import random
import threading
import time
from collections.abc import Callable
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
    """Signed SOPA loads of BATCH records sent at a steady rate from threads of the bench (not of the
    hub), built as they go, a second ahead: a long soak sends more loads than fit in memory, each with
    its own MessageID. Each second's loads go out through the load generator's senders, IN_FLIGHT at most
    at once; when the hub answers too slowly to keep the rate, `achieved` says so."""

    def __init__(self, bench: Bench, url: str, records_per_s: float, seed: int) -> None:
        self.url = url
        self.loads_per_s = records_per_s / BATCH
        self.seed = seed
        self.signer = bench.signer("sopa")
        self.factory = RecordFactory(municipality=RIGA, record_prefix="S", decision_prefix="S", rng=random.Random(seed))
        self.sent = 0  # loads answered with a receipt
        self.seconds = 0.0  # from the start to the last answer
        self.failure: BaseException | None = None
        self._ahead: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=max(2, math.ceil(self.loads_per_s)))
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._guarded, args=(work,), name=f"steady-{work.__name__}", daemon=True)
            for work in (self._build, self._send)
        ]

    def start(self) -> Steady:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> int:
        """Records sent and received; raises what stopped the sending early."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self.failure is not None:
            raise RuntimeError("the steady load failed") from self.failure
        return self.sent * BATCH

    @property
    def achieved(self) -> float:
        """Records per second sent and answered."""
        return self.sent * BATCH / self.seconds if self.seconds else 0.0

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as failure:
            self.failure = failure
            self._stop.set()

    def _build(self) -> None:
        for number in itertools.count():
            body = from_canonical(self.factory.batch(BATCH), RIGA, f"SOAK-{self.seed}-{number}")
            load = ("/soap/sopa", sopa_request(body, "spolis", signer=self.signer))
            while not self._stop.is_set():
                try:
                    self._ahead.put(load, timeout=TICK)
                    break
                except queue.Full:
                    continue
            if self._stop.is_set():
                return

    def _send(self) -> None:
        started = time.monotonic()
        for tick in itertools.count(1):
            due = min(int((time.monotonic() - started) * self.loads_per_s) - self.sent, math.ceil(2 * self.loads_per_s))
            loads = []
            while len(loads) < due and not self._stop.is_set():
                try:
                    loads.append(self._ahead.get(timeout=TICK))
                except queue.Empty:
                    continue
            if loads:
                report = loadgen.run(self.url, loads, concurrency=min(len(loads), IN_FLIGHT))
                if report["faults"]:
                    raise RuntimeError(f"loads refused, e.g. {report['faults'][0]}")  # type: ignore[index]
                self.sent += len(loads)
                self.seconds = time.monotonic() - started
            if self._stop.wait(max(0.0, started + tick * TICK - time.monotonic())):
                return


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
    rate_per_s: float  # asked
    achieved_per_s: float  # sent and answered
    warm_up_s: float
    interval_s: float
    sent: int
    delivered: int  # once the load stopped, within `settle_s`
    settle_s: float
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
    settle = 120 + seconds / 10
    try:
        wait_until(lambda: count() >= records + sent, settle, "the soak delivered", bench.alive)
    except TimeoutError:
        pass  # the table says how many were missing: the resources' figures stand all the same
    return SoakFigures(
        minutes,
        per_s,
        per_s * SHARE,
        steady.achieved,
        warm_up,
        interval,
        sent,
        count() - records,
        settle,
        processes.series,
    )


def render(f: SoakFigures) -> list[str]:
    return [
        "## Every hub process in a soak",
        "",
        f"A gateway with {CORES} preparing processes and {WORKERS} workers delivering into the SPOLIS simulator: "
        f"{f.calibrated_per_s:,.0f} records/s end to end in a calibration, then {f.rate_per_s:,.0f} records/s "
        f"asked ({SHARE:.0%}; {f.achieved_per_s:,.0f} sent and answered) for {f.minutes:g} min, every process "
        f"sampled every {f.interval_s:g} s after a warm-up of {f.warm_up_s:.0f} s. " + judged(IN_FLIGHT),
        "",
        *table(f.series),
        "",
        f"Records sent {f.sent:,}, delivered {f.delivered:,} within {f.settle_s:.0f} s of the load's end: "
        f"{goal(f.delivered == f.sent, 'every record delivered')}.",
        "",
    ]


def run(bench: Bench, minutes: float) -> list[str]:
    return render(measure(bench, minutes))
