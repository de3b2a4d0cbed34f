"""`python -m bench`: prints the table and writes it to bench/results/."""

from __future__ import annotations

import argparse
import datetime as dt
import platform
from pathlib import Path

import lxml
import zeep

from bench.outbound_build import measure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()

    costs = measure(records=args.records, rounds=args.rounds)
    lines = [
        f"# outbound build, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"Python {platform.python_version()}, lxml {lxml.__version__}, zeep {zeep.__version__}",
        "",
        "| SPOLIS request, per record | us |",
        "| --- | --- |",
        f"| lxml build + XSD validate + serialise (the hub) | {costs['lxml']:.0f} |",
        f"| zeep create_message + serialise (no validation) | {costs['zeep']:.0f} |",
        "",
        f"zeep / lxml = {costs['zeep'] / costs['lxml']:.1f}x "
        f"({args.records} records, batches of 100, median of {args.rounds})",
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_save:
        out = Path(__file__).parent / "results" / f"outbound-build-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.md"
        out.write_text(table + "\n", encoding="utf-8")
        print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
