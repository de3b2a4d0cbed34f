"""The peers, end to end on the same broker into a SPOLIS simulator of their own: the naive
pipeline (`bench.naive`) and Celery (`bench.celery_peer`). See those modules for what they do."""

from __future__ import annotations

import os
import time

from bench.environment import HTTP, Bench, wait_until
from bench.stages import Throughput, load, signed_loads


def _stored(spolis: str) -> int:
    return int(HTTP.get(spolis.replace("/soap/spolis", "/_sim/stats")).json()["records"])


def _listening(url: str) -> bool:
    return HTTP.get(f"{url}/soap/sopa").status_code in (404, 405)


def _run(bench: Bench, name: str, url: str, spolis: str, records: int, seed: int) -> Throughput:
    requests = signed_loads(bench, records, seed=seed, signed=False)
    report = load(bench, url, requests, concurrency=4, name=name)
    wait_until(lambda: _stored(spolis) >= records, 1800, f"{name}: every record in SPOLIS", bench.alive)
    return Throughput(records, time.time() - report["started"])


def naive(bench: Bench) -> Throughput:
    spolis = bench.simulator("spolis", signed=False)
    queue = f"{bench.prefix}-naive"
    url = bench.listening(
        "the naive gateway",
        lambda port: bench.start("naive-gateway", ["-m", "bench.naive", "gateway", str(port), bench.amqp_url, queue]),
        _listening,
        60,
    )
    bench.start("naive-worker", ["-m", "bench.naive", "worker", bench.amqp_url, queue, spolis])
    return _run(bench, "naive", url, spolis, bench.size.naive_records, seed=20)


def celery(bench: Bench) -> Throughput:
    spolis = bench.simulator("spolis", signed=False)
    queue = f"{bench.prefix}-celery"
    env = {**os.environ, "BENCH_AMQP_URL": bench.amqp_url, "BENCH_QUEUE": queue, "BENCH_SPOLIS": spolis}
    worker = [
        "-m", "celery", "-A", "bench.celery_peer", "worker", "--pool", "prefork", "--concurrency", "2",
        "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    bench.start("celery-worker", worker, env)
    log = bench.work / "celery-worker.log"
    wait_until(lambda: " ready." in log.read_text(errors="replace"), 60, "the Celery worker", bench.alive)
    url = bench.listening(
        "the Celery gateway",
        lambda port: bench.start("celery-gateway", ["-m", "bench.celery_peer", str(port)], env),
        _listening,
        60,
    )
    return _run(bench, "celery", url, spolis, bench.size.celery_records, seed=30)
