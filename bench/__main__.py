"""`python -m bench` (`make bench`): every measurement in one run on the same broker, each section
repeated, one table, printed and written to var/bench/ (outside what git tracks; `--output FILE`
names the file). Needs RabbitMQ (HUB_BENCH_AMQP_URL, default guest on localhost) and, for the
PostgreSQL store, a PostgreSQL that lets it create a database (HUB_BENCH_PG_URL)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import backlog, peers, pipeline, queries, raw, refusals, soak, stages
from bench.environment import SIZES, STORES, Bench, machine
from bench.machine import Busyness, watched
from bench.report import Results, Round, render
from hub.settings import PROJECT_ROOT

SECTIONS = ("raw", "pipeline", "ingest", "delivery", "e2e", "peers", "queries", "refusals", "backlog")
PER_STORE = ("ingest", "delivery", "e2e")  # the sections run once per store; the others on the first store
ONCE = ("backlog",)  # a million messages filled and watched: memory flat or not, in the first round only
RESULTS = PROJECT_ROOT / "var" / "bench"


def steps(bench: Bench, r: Round, stores: list[str]) -> dict[str, Callable[[str], None]]:
    """Each section, measuring into this round `r` with the store it is given."""
    # the gateway preparing loads in its threads is for comparison with its pool: on the first store only
    ingest = {store: (0, stages.CORES) if store == stores[0] else (stages.CORES,) for store in stores}

    def peer(_: str) -> None:
        r.naive, r.celery = peers.naive(bench), peers.celery(bench)

    return {
        "raw": lambda _: setattr(
            r, "raw", raw.measure(bench.amqp_url, bench.prefix, bench.size.records, bench.codec())
        ),
        "pipeline": lambda _: setattr(r, "pipeline", pipeline.measure(bench)),
        "ingest": lambda store: r.ingest.update({store: {n: stages.gateway_ingest(bench, n) for n in ingest[store]}}),
        "delivery": lambda store: r.delivery.update({store: stages.worker_delivery(bench)}),
        "e2e": lambda store: r.e2e.update({store: stages.end_to_end(bench)}),
        "peers": peer,
        "queries": lambda _: setattr(r, "queries", queries.measure(bench)),
        "refusals": lambda _: setattr(r, "refusals", refusals.measure(bench)),
        "backlog": lambda _: setattr(r, "backlog", backlog.measure(bench)),
    }


def run(bench: Bench, results: Results, only: set[str], repeat: int) -> None:
    """Every section once per round, so that the rounds meet the machine at different times; each on a
    quiet machine (what the section started is stopped) and watched for noise."""
    for number in range(repeat):
        r = Round()
        results.rounds.append(r)
        bench.round = number
        for name, step in steps(bench, r, results.stores).items():
            if name not in only or (number and name in ONCE):
                continue
            for store in results.stores if name in PER_STORE else results.stores[:1]:
                bench.store = store
                print(f"bench: {name} ({store}), round {number + 1} of {repeat} ...", file=sys.stderr, flush=True)
                busy: list[Busyness] = []
                try:
                    with watched(busy):
                        step(store)
                finally:
                    bench.stop_all()
                r.busy[(name, store)] = busy[0]
                print(f"bench: {name} ({store}) took {busy[0].seconds:,.0f} s", file=sys.stderr, flush=True)
        if number + 1 < repeat:
            bench.delete_queues()  # a round's quorum queues hold files on a shared broker: not several rounds' at once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full", help="how much to send (default: %(default)s)")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="the sections to run (default: all)"
    )
    parser.add_argument(
        "--store",
        nargs="+",
        choices=STORES,
        default=list(STORES),
        help=f"the hub's store for {', '.join(PER_STORE)}, each in turn; the other sections use the first "
        "(default: %(default)s; PostgreSQL from HUB_BENCH_PG_URL, a database of its own per run)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, metavar="N", help="run every section N times: medians and spread (default: 3)"
    )
    parser.add_argument(
        "--soak",
        type=float,
        nargs="?",
        const=60.0,
        metavar="MINUTES",
        help="run only the soak: the hub under half its measured throughput for MINUTES (default 60)",
    )
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help=f"where to write the table (default: {RESULTS.relative_to(PROJECT_ROOT)}/<time>-<size>.md)",
    )
    parser.add_argument(
        "--profile", choices=("gateway", "worker"), help="record py-spy flame graphs of that role's processes"
    )
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("HUB_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        help="the RabbitMQ to measure on (default: HUB_BENCH_AMQP_URL, else guest on localhost)",
    )
    args = parser.parse_args(argv)
    results = Results(args.size, machine(), list(dict.fromkeys(args.store)))
    # a run ended by SIGTERM (a timeout) still stops its processes and removes its queues and database
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as work:
            bench = Bench(args.amqp_url, Path(work), SIZES[args.size], args.profile, store=results.stores[0])
            try:
                if args.soak is not None:
                    table = "\n".join(soak.run(bench, args.soak))
                else:
                    run(bench, results, set(args.only), args.repeat)
                    table = render(results)
            finally:
                bench.stop_all()
                bench.delete_queues()
                bench.drop_database()
            saved = _keep_profiles(bench) if args.profile else []
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(table)
    for path in saved:
        print(f"flame graph: {path}", file=sys.stderr)
    if not args.no_save:
        kind = "soak" if args.soak is not None else args.size
        out = args.output or RESULTS / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{kind}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table + "\n", encoding="utf-8")
        print(f"\nwritten to {out}", file=sys.stderr)
    return 0


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _keep_profiles(bench: Bench) -> list[Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    kept = []
    for path in bench.profiles:
        if path.exists():
            kept.append(RESULTS / f"{stamp}-{path.name}")
            kept[-1].write_bytes(path.read_bytes())
    return kept


if __name__ == "__main__":
    sys.exit(main())
