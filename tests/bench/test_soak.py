"""The resource watch catches what leaks (memory, open files, threads) and lets pass what only comes and
goes with the load; the soak runs every hub process under a steady load and judges each one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import soak
from bench.environment import SIZES, Bench
from bench.resources import Sample, Series, Watch, table


def series(rss: list[float], fds: list[int], threads: list[int] | None = None, allowance: int = 0) -> Series:
    threads = threads or [10] * len(rss)
    samples = [
        Sample(at=float(n), rss_mb=r, fds=f, threads=t, sockets=5, tcp=3)
        for n, (r, f, t) in enumerate(zip(rss, fds, threads, strict=True))
    ]
    return Series("worker", allowance, samples)


def test_flat_memory_and_counts_that_come_and_go_hold():
    steady = series([100, 104, 101, 109, 103] * 4, [30, 34, 31, 30, 33] * 4, allowance=4)
    assert steady.holds, steady.faults()
    assert (steady.start("fds"), steady.end("fds")) == (34, 30)


def test_growing_memory_is_caught():
    growing = series([100 + n for n in range(20)], [30] * 20)
    assert growing.faults() == ["RSS +19%"]


def test_open_files_and_threads_growing_past_the_allowance_are_caught():
    leaking = series([100] * 20, [30 + n for n in range(20)], [10 + n // 4 for n in range(20)], allowance=4)
    assert leaking.faults() == ["fds 31 → 48"]
    assert series([100] * 20, [30] * 18 + [31, 31]).faults() == ["fds 30 → 31"]  # no allowance: not one more


def test_a_process_that_exited_while_watched_fails_and_the_table_says_why():
    gone = series([100] * 3, [30] * 3)
    gone.ended = True
    (row,) = table([gone])[2:]
    assert row.startswith("| worker | 100 MB | 100 MB | 100 MB | 30 → 30 |") and "NOT met: exited while watched" in row


LEAKER = textwrap.dedent(
    """
    import socket, threading, time
    held, blocks = [], []
    print("ready", flush=True)
    for _ in range(60):
        held.append(socket.socket())
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        blocks.append(b"x" * (2 << 20))  # written, so resident
        time.sleep(0.05)
    time.sleep(60)
    """
)


def test_a_real_process_leaking_memory_sockets_and_threads_is_caught_from_proc(tmp_path: Path):
    leaker = subprocess.Popen([sys.executable, "-c", LEAKER], stdout=subprocess.PIPE)
    try:
        assert leaker.stdout is not None and leaker.stdout.readline() == b"ready\n"
        watch = Watch({"leaker": leaker.pid}, allowance=4)
        watch.run(2.5, 0.1, lambda: None)
    finally:
        leaker.kill()
        leaker.wait()
    (caught,) = watch.series
    faults = " ".join(caught.faults())
    assert caught.rss_max > caught.rss_start * 1.5
    for count in ("RSS", "fds", "threads", "sockets"):
        assert count in faults, faults
    assert caught.end("tcp") == 0  # sockets never connected are no TCP connections


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_a_short_soak_judges_every_hub_process_and_delivers_every_record(amqp_url, tmp_path: Path):
    bench = Bench(amqp_url, tmp_path / "soak", SIZES["tiny"])
    try:
        lines = soak.run(bench, 0.15)
    finally:
        bench.stop_all()
        bench.delete_queues()
    assert lines[0] == "## Every hub process in a soak"
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and "---" not in line}
    processes = {"gateway", "gateway, preparing process 1", "worker 1", "worker 2"}
    assert processes <= set(rows), rows
    for name in processes:
        assert "met: " in rows[name] and " MB |" in rows[name], rows[name]
    (delivery,) = [line for line in lines if line.startswith("Records sent")]
    assert "met: every record delivered" in delivery and "NOT" not in delivery, delivery
