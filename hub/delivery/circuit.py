"""A circuit breaker per target: stop calling a target that keeps failing, probe it now and then.

Closed: calls go through; `failures` failed calls in a row open it. Open: no calls; the worker's
consumer loop hands nothing over, so messages wait in the broker (and its prefetch window in the
loop, unacked). After `open_seconds` it lets one probe through (half-open); success closes it,
failure opens it again.

Each change of state is logged once, with why (opening: a warning, naming the last failure; half-open
and closing: info): the line an on-call person reads next to the `HubTargetCircuitOpen` alert. A
circuit that stays open logs nothing more, however many messages wait.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import IntEnum
from typing import NamedTuple

from hub import logs, metrics
from hub.rules.policies import BreakerSettings

log = logging.getLogger(__name__)


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


_NAMES = {State.CLOSED: "closed", State.HALF_OPEN: "half_open", State.OPEN: "open"}
_LINES = {State.CLOSED: "circuit closed", State.HALF_OPEN: "circuit half-open", State.OPEN: "circuit opened"}


class _Transition(NamedTuple):
    before: State
    after: State
    why: str


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
        self._changes: list[_Transition] = []  # made under the lock, logged once by whoever takes them
        metrics.circuit_state.labels(target).set(State.CLOSED)

    @property
    def state(self) -> State:
        with self._lock:
            state = self._current()
            changes = self._taken()
        self._log(changes)
        return state

    def _current(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.open_seconds:
            self._set(State.HALF_OPEN, f"{self.open_seconds:g} s passed since it opened: one probe may go")
        return self._state

    def _set(self, state: State, why: str) -> None:
        if state is not self._state:
            self._changes.append(_Transition(self._state, state, why))
        self._state = state
        metrics.circuit_state.labels(self.target).set(state)

    def _taken(self) -> list[_Transition]:
        changes, self._changes = self._changes, []
        return changes

    def _log(self, changes: list[_Transition]) -> None:
        """Outside the lock: a slow log handler must not hold up every worker of the target."""
        for change in changes:
            log.log(
                logging.WARNING if change.after is State.OPEN else logging.INFO,
                _LINES[change.after],
                extra={
                    "target": self.target,
                    "from_state": _NAMES[change.before],
                    "to_state": _NAMES[change.after],
                    "why": change.why,
                    **({"probe_in_s": self.open_seconds} if change.after is State.OPEN else {}),
                },
            )

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one probe at a time."""
        with self._lock:
            allowed = self._allow()
            changes = self._taken()
        self._log(changes)
        return allowed

    def _allow(self) -> bool:
        state = self._current()
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def seconds_until_probe(self) -> float:
        with self._lock:
            state = self._current()
            wait = max(self.open_seconds - (self._clock() - self._opened_at), 0.0) if state is State.OPEN else 0.0
            changes = self._taken()
        self._log(changes)
        return wait

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state is not State.CLOSED:
                # open: a call that went out before it opened came back well
                self._set(State.CLOSED, "probe succeeded" if self._state is State.HALF_OPEN else "a call succeeded")
            changes = self._taken()
        self._log(changes)

    def failure(self, reason: str | None = None) -> None:
        """A failed call; `reason` (its error class and message) says why, should the circuit open."""
        because = f": {logs.short(reason)}" if reason else ""
        with self._lock:
            self._failures += 1
            self._probing = False
            if self._state is State.HALF_OPEN or self._failures >= self.threshold:
                if self._state is not State.OPEN:
                    metrics.circuit_opened.labels(self.target).inc()
                if self._state is State.HALF_OPEN:
                    why = f"probe failed{because}"
                else:
                    why = f"{self._failures} failed calls in a row{because}"
                self._set(State.OPEN, why)
                self._opened_at = self._clock()
            changes = self._taken()
        self._log(changes)
