"""A circuit breaker per target: stop calling a target that keeps failing, probe it now and then.

Closed: calls go through; `failures` failed calls in a row open it. Open: no calls; the worker
stops consuming so messages wait in the broker. After `open_seconds` it lets one probe through
(half-open); success closes it, failure opens it again.
"""

from __future__ import annotations

import threading
import time
from enum import IntEnum

from hub import metrics
from hub.rules.policies import BreakerSettings


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(self, target: str, settings: BreakerSettings, *, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.target = target
        self.threshold = settings.failures
        self.open_seconds = settings.open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        metrics.circuit_state.labels(target).set(State.CLOSED)

    @property
    def state(self) -> State:
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.open_seconds:
            self._set(State.HALF_OPEN)
        return self._state

    def _set(self, state: State) -> None:
        self._state = state
        metrics.circuit_state.labels(self.target).set(state)

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one probe at a time."""
        with self._lock:
            state = self._current()
            if state is State.CLOSED:
                return True
            if state is State.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def seconds_until_probe(self) -> float:
        with self._lock:
            if self._current() is not State.OPEN:
                return 0.0
            return max(self.open_seconds - (self._clock() - self._opened_at), 0.0)

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state is not State.CLOSED:
                self._set(State.CLOSED)

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._probing = False
            if self._state is State.HALF_OPEN or self._failures >= self.threshold:
                if self._state is not State.OPEN:
                    metrics.circuit_opened.labels(self.target).inc()
                self._set(State.OPEN)
                self._opened_at = self._clock()
