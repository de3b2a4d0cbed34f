"""The benchmark runs, every section of it, on a tiny size (its figures are never asserted: the
machines are noisy, and speed is read from `make bench`, not from tests)."""

from __future__ import annotations

import pytest

from bench.__main__ import main
from bench.environment import SIZES

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def test_the_benchmark_runs_every_section_and_prints_one_table(amqp_url, capsys):
    assert main(["--size", "tiny", "--no-save", "--amqp-url", amqp_url]) == 0
    table = capsys.readouterr().out
    for heading in ("Raw limits", "The hub", "Peers", "Per-person queries", "before authentication", "with a backlog"):
        assert heading in table
    for stage in (
        "in its threads",
        "preparing",
        "worker delivery",
        "1 worker process",
        "2 worker processes",
        "naive",
        "Celery",
    ):
        assert stage in table
    assert table.count("met") >= 6  # every goal is judged, whatever the verdict
    tiny = SIZES["tiny"]
    moved = {row.split("|")[1].strip(): int(row.split("|")[2].replace(",", "")) for row in _rows(table, "## The hub")}
    assert len(moved) == 5 and all(count >= tiny.records for count in moved.values()), moved  # all got through
    peers = [int(row.split("|")[2].replace(",", "")) for row in _rows(table, "## Peers")]
    assert peers == [tiny.naive_records, tiny.celery_records]


def _rows(table: str, heading: str) -> list[str]:
    """The data rows of the markdown table under `heading`."""
    section = table.split(heading, 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]
