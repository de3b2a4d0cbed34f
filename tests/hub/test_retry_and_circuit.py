"""Retry policies and the circuit breaker, as pure logic with a fake clock."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.broker.topology import delay_queue_suffix
from hub.delivery.circuit import CircuitBreaker, State
from hub.errors import TargetRejected, TargetUnavailable
from hub.rules.policies import BreakerSettings, RetryPolicy


def test_delays_grow_then_stay_at_the_last():
    policy = RetryPolicy(delays_seconds=(5, 30, 120))
    assert [policy.delay_for(n) for n in (1, 2, 3, 4, 9)] == [5, 30, 120, 120, 120]


def test_exhausted_by_attempts_or_age():
    policy = RetryPolicy(max_attempts=3, max_age_seconds=3600)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert not policy.exhausted(3, start, start)
    assert policy.exhausted(4, start, start)
    assert policy.exhausted(1, start, start + dt.timedelta(hours=2))


def test_quick_retries_only_transient_errors_and_reraise_the_original():
    policy = RetryPolicy(quick_attempts=3, quick_initial_seconds=0, quick_max_seconds=0)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TargetUnavailable("blip")
        return "ok"

    assert policy.quick(flaky) == "ok" and len(calls) == 3
    calls.clear()

    def refused():
        calls.append(1)
        raise TargetRejected("no")

    with pytest.raises(TargetRejected):
        policy.quick(refused)
    assert len(calls) == 1


def test_delay_names():
    assert [delay_queue_suffix(s) for s in (5, 120, 3600, 0.25, 90)] == ["5s", "2m", "1h", "250ms", "90s"]


def test_breaker_opens_probes_and_closes():
    now = [0.0]
    breaker = CircuitBreaker("spolis-test", BreakerSettings(failures=3, open_seconds=10), clock=lambda: now[0])
    for _ in range(2):
        breaker.failure()
    assert breaker.state is State.CLOSED and breaker.allow()
    breaker.failure()
    assert breaker.state is State.OPEN and not breaker.allow()
    assert breaker.seconds_until_probe() == 10
    now[0] = 10
    assert breaker.state is State.HALF_OPEN
    assert breaker.allow() and not breaker.allow(), "one probe at a time"
    breaker.failure()
    assert breaker.state is State.OPEN
    now[0] = 21
    assert breaker.allow()
    breaker.success()
    assert breaker.state is State.CLOSED and breaker.allow()
