"""The benchmark runs, every section of it on both stores, once, on a tiny size (its figures are
never asserted: the machines are noisy, and speed is read from `make bench`, not from tests)."""

from __future__ import annotations

import pytest

from bench.__main__ import main
from bench.environment import SIZES, STORES

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def test_the_benchmark_runs_every_section_and_prints_one_table(amqp_url, capsys):
    assert main(["--size", "tiny", "--repeat", "1", "--no-save", "--amqp-url", amqp_url]) == 0
    table = capsys.readouterr().out
    for heading in (
        "Raw limits",
        "The hub",
        "CPU per record end to end",
        "Peers",
        "Per-person queries",
        "before authentication",
        "with a backlog",
        "How busy the machine was",
    ):
        assert heading in table
    for stage in (
        "in its threads",
        "preparing",
        "worker delivery",
        "1 worker process",
        "2 worker processes",
        "naive",
        "Celery",
        "pipeline limit",
        "ingest limit with its cryptography",
        "the gateway's floor",
    ):
        assert stage in table
    for verdict in (  # every goal is judged, whatever the verdict
        "CPU ≤ ×1.5 raw ingest",
        "CPU ≤ ×1.2 raw delivery",
        "≥ 60% of the pipeline limit",
        "hub ≤ ×1.3",
        "gateway ≤ ×1.5",
        "workers ≤ ×1.2",
    ):
        assert f"met: {verdict}" in table, verdict
    assert table.count("met") >= 12
    raw = _rows(table, "## Raw limits")
    assert all("µs" in row.split("|")[4] for row in raw[:10]), raw  # CPU per record beside each
    tiny = SIZES["tiny"]
    hub = _rows(table, "## The hub")
    moved = {(row.split("|")[1].strip(), row.split("|")[2].strip()): _count(row.split("|")[3]) for row in hub}
    # per store: the gateway with its pool, the worker, end to end with 1 and 2 workers; the gateway without a pool once
    assert len(moved) == 4 * len(STORES) + 1 and all(count >= tiny.records for count in moved.values()), moved
    assert {store for _, store in moved} == set(STORES)
    assert all("µs" in row.split("|")[7] for row in hub), hub  # the hub's CPU per record
    gateway = [row for row in hub if "gateway ingest" in row]
    assert all("with its cryptography" in row.split("|")[8] for row in gateway), gateway
    cpu = _rows(table, "## CPU per record end to end")
    assert len(cpu) == 2 * len(STORES) and all("raw ingest + delivery" in row for row in cpu), cpu
    peers = [_count(row.split("|")[2]) for row in _rows(table, "## Peers")]
    assert peers == [tiny.naive_records, tiny.celery_records]
    busy = _rows(table, "## How busy the machine was")
    assert {row.split("|")[1].strip() for row in busy} >= {"raw", "pipeline", "ingest", "delivery", "e2e"}
    assert all(row.count("%") >= 5 for row in busy), busy  # steal, the bench, RabbitMQ, PostgreSQL, the others


def _count(cell: str) -> int:
    return int(cell.strip().split()[0].replace(",", ""))


def _rows(table: str, heading: str) -> list[str]:
    """The data rows of the markdown table under `heading`."""
    section = table.split(heading, 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]
