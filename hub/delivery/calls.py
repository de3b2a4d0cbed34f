"""A call to a target, timed: its own response time is what the on-call person compares with the
hub's delivery latency to tell a slow target from a hub that falls behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hub import metrics
from hub.errors import classify

T = TypeVar("T")


def timed(target: str, call: Callable[[], T]) -> T:
    started = time.perf_counter()
    outcome = "ok"
    try:
        return call()
    except Exception as exc:
        outcome = classify(exc)[0]
        raise
    finally:
        metrics.target_call_duration.labels(target, outcome).observe(time.perf_counter() - started)
