"""`python -m bench` (`make bench`): every measurement in one run on the same broker, one table,
printed and written to var/bench/ (outside what git tracks; `--output FILE` names the file).
Needs RabbitMQ (HUB_BENCH_AMQP_URL, default guest on localhost)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import backlog, peers, queries, raw, refusals, stages
from bench.environment import SIZES, Bench, machine
from bench.report import Results, render
from hub.settings import PROJECT_ROOT

SECTIONS = ("raw", "ingest", "delivery", "e2e", "peers", "queries", "refusals", "backlog")
RESULTS = PROJECT_ROOT / "var" / "bench"


def run(bench: Bench, results: Results, only: set[str]) -> None:
    codec = bench.codec()
    steps: list[tuple[str, Callable[[], None]]] = [
        ("raw", lambda: setattr(results, "raw", raw.measure(bench.amqp_url, bench.prefix, bench.size.records, codec))),
        ("ingest", lambda: results.ingest.update({n: stages.gateway_ingest(bench, n) for n in (0, stages.CORES)})),
        ("delivery", lambda: setattr(results, "delivery", stages.worker_delivery(bench))),
        ("e2e", lambda: results.e2e.update({n: stages.end_to_end(bench, n) for n in (1, 2)})),
        (
            "peers",
            lambda: (setattr(results, "naive", peers.naive(bench)), setattr(results, "celery", peers.celery(bench))),
        ),
        ("queries", lambda: setattr(results, "queries", queries.measure(bench))),
        ("refusals", lambda: setattr(results, "refusals", refusals.measure(bench))),
        ("backlog", lambda: setattr(results, "backlog", backlog.measure(bench))),
    ]
    for name, step in steps:
        if name not in only:
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            step()
        finally:
            bench.stop_all()  # every section on a quiet machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full", help="how much to send (default: %(default)s)")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="the sections to run (default: all)"
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
    results = Results(args.size, machine())
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as work:
        bench = Bench(args.amqp_url, Path(work), SIZES[args.size], args.profile)
        try:
            run(bench, results, set(args.only))
        finally:
            bench.stop_all()
            bench.delete_queues()
        saved = _keep_profiles(bench) if args.profile else []
    table = render(results)
    print(table)
    for path in saved:
        print(f"flame graph: {path}", file=sys.stderr)
    if not args.no_save:
        out = args.output or RESULTS / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{args.size}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table + "\n", encoding="utf-8")
        print(f"\nwritten to {out}", file=sys.stderr)
    return 0


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
