"""Fault tests on the real RabbitMQ: 5,000 records from SOPA, LIETIS and GVS flow through the hub while
something breaks. Each ends with SPOLIS's store holding exactly the records the receipts promised, none
twice, and the hub's status store and metrics agreeing. The broker that is killed is a node of the
test's own, never the machine's."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from hub.settings import PROJECT_ROOT
from hub.simulation.municipal import LoadResult
from hub.store.failed import Filter
from hub.systems import discover
from tests.helpers import metric, same_hub_environment, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

RECORDS = 5000
SOURCES = ("sopa", "lietis", "gvs")


def start_load(url: str, *, unregistered_share: float = 0.0) -> Future[list[LoadResult]]:
    """The three municipal simulators at once, in the background; clients resend on "retry later"."""
    systems = discover()
    pool = ThreadPoolExecutor(max_workers=len(SOURCES) + 1)

    def run() -> list[LoadResult]:
        share = [RECORDS // 3 + (1 if i < RECORDS % 3 else 0) for i in range(3)]
        futures = [
            pool.submit(
                systems[name].simulator.send,
                url,
                records=n,
                batch_size=100,
                concurrency=2,
                seed=40 + i,
                retries=12,
                unregistered_share=unregistered_share,
            )
            for i, (name, n) in enumerate(zip(SOURCES, share, strict=True))
        ]
        return [f.result() for f in futures]

    return pool.submit(run)


def promised(results: list[LoadResult]) -> set[str]:
    ids = {mid for r in results for s in r.submitted if s.accepted for mid in s.message_ids}
    assert sum(r.records_refused for r in results) == 0, "every load must be accepted in the end"
    assert len(ids) == RECORDS
    return ids


def when(condition: Callable[[], bool], timeout: float = 120) -> None:
    wait_for(condition, timeout=timeout)


def assert_exactly_once(hub, spolis, ids: set[str]) -> None:  # type: ignore[no-untyped-def]
    when(lambda: hub.store.counts().get("delivered", 0) == len(ids), timeout=300)
    stored = spolis.store.message_ids()
    assert len(stored) == len(set(stored)) == len(ids)
    assert set(stored) == ids


def test_worker_killed_mid_stream_and_started_again(start_hub, amqp_url, spolis):
    hub = start_hub(amqp_url, workers=False)
    env = same_hub_environment(hub, http_port=0, log_level="WARNING")

    def worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--role", "worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = worker()
    load = start_load(hub.gateway_url)
    when(lambda: spolis.store.stats()["records"] >= 1000)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = spolis.store.stats()["records"]
    assert killed_at < RECORDS, "the kill must happen mid-stream"
    second = worker()
    try:
        ids = promised(load.result(timeout=300))
        assert_exactly_once(hub, spolis, ids)
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert not hub.failed.find(Filter())


READY_AGAIN_SECONDS = 2.5  # the reconnect waits' longest (1.5 s) and a connection's start, with room


def test_rabbitmq_restarted_mid_stream(own_rabbit, start_hub, spolis):
    """The test's own node is killed mid-stream and started again (the machine's broker is never stopped)."""
    hub = start_hub(own_rabbit.url)
    before = metric(hub, "hub_messages_delivered_total")
    load = start_load(hub.gateway_url)
    when(lambda: spolis.store.stats()["records"] >= 1000)
    own_rabbit.kill()
    try:
        when(lambda: httpx.get(f"{hub.gateway_url}/readyz").status_code == 503, timeout=30)
        refused = httpx.post(
            f"{hub.gateway_url}/soap/sopa",
            content=(PROJECT_ROOT / "schemas/sopa/samples/valid/benefits.xml").read_bytes(),
            headers={"Content-Type": "text/xml"},
            timeout=30,
        )
        assert refused.status_code == 500 and b"temporarily unavailable, retry later" in refused.content
        assert b"<hub:Retry>true</hub:Retry>" in refused.content
    finally:
        time.sleep(3)  # down a while longer: the clients meet "retry later" and resend
        own_rabbit.start()
    back = time.monotonic()
    when(lambda: httpx.get(f"{hub.gateway_url}/readyz").status_code == 200, timeout=60)
    print(f"ready {time.monotonic() - back:.2f} s after the broker's return")
    assert time.monotonic() - back < READY_AGAIN_SECONDS
    ids = promised(load.result(timeout=300))
    assert_exactly_once(hub, spolis, ids)
    assert metric(hub, "hub_messages_delivered_total") - before == len(ids)
    assert not hub.failed.find(Filter())


SURVIVE_30S = """
[retry_policies.bulk]
quick_attempts = 2
quick_initial_seconds = 0.05
quick_max_seconds = 0.2
delays_seconds = [1, 2, 4]
max_attempts = 30
max_age_seconds = 600

[breakers.spolis]
failures = 4
open_seconds = 3

[[routes]]
flow = "F1"
types = ["social_assistance.benefit.v1", "social_assistance.household_status.v1", "social_assistance.social_service.v1"]
target = "spolis"
retry_policy = "bulk"
"""


def test_spolis_down_for_30_seconds(start_hub, amqp_url, spolis, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(SURVIVE_30S, encoding="utf-8")
    hub = start_hub(amqp_url, routes_file=routes)
    before = metric(hub, "hub_messages_delivered_total")
    load = start_load(hub.gateway_url)
    when(lambda: spolis.store.stats()["records"] >= 1000)
    spolis.stop()
    stopped = time.monotonic()
    when(lambda: hub.breakers["spolis"].state.name == "OPEN", timeout=30)
    time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
    spolis.start()
    ids = promised(load.result(timeout=300))
    assert_exactly_once(hub, spolis, ids)
    assert metric(hub, "hub_messages_delivered_total") - before == len(ids)
    assert not hub.failed.find(Filter())


def test_spolis_answering_30_percent_with_5xx_or_timeouts(start_hub, amqp_url, spolis, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(SURVIVE_30S, encoding="utf-8")
    spolis.knobs.fault_rate, spolis.knobs.timeout_rate, spolis.knobs.timeout_seconds = 0.15, 0.15, 3.0
    hub = start_hub(amqp_url, routes_file=routes, target_timeout_seconds=1.0)
    before = metric(hub, "hub_messages_delivered_total")
    ids = promised(start_load(hub.gateway_url).result(timeout=300))
    assert_exactly_once(hub, spolis, ids)
    stats = spolis.store.stats()
    assert stats["faults_injected"] > 0 and stats["timeouts_injected"] > 0
    assert metric(hub, "hub_messages_delivered_total") - before == len(ids)
    assert not hub.failed.find(Filter())


def test_one_percent_invalid_for_spolis_then_the_group_replayed_once(start_hub, amqp_url, spolis):
    hub = start_hub(amqp_url)
    results = start_load(hub.gateway_url, unregistered_share=0.01).result(timeout=300)
    ids = promised(results)
    when(lambda: sum(hub.store.counts().get(s, 0) for s in ("delivered", "failed")) == len(ids), timeout=300)
    failed = hub.failed.find(Filter())
    assert 20 <= len(failed) <= 100
    assert {f.error_class for f in failed} == {"target_rejected"}
    assert set(spolis.store.message_ids()) == ids - {f.message_id for f in failed}

    (group,) = hub.failed.groups(Filter())
    spolis.knobs.extra_providers = sorted(
        {hub.failed.envelope(f.id)[0].payload["provider_register_no"] for f in failed}
    )
    service = hub.operators()
    outcome = service.replay(service.select(where=Filter(group_id=group.group_id)), operator="ops", reason="registered")
    assert len(outcome.replayed) == len(failed)
    assert_exactly_once(hub, spolis, ids)
    assert spolis.store.stats()["duplicates"] == 0
    assert not hub.failed.find(Filter())
