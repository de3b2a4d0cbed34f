"""How long the hub's broker clients wait before reconnecting: the consumer loop and the publisher alike.

The wait doubles while attempts fail, and starts short again once a connection has stayed up for a
while: a process that met a few blips over a day must not pay the longest wait at every later one.
The longest wait is short (a refused connection costs the broker nothing), so a process is ready
again within about that time of its broker's return. Each wait is spread a little at random, so that
the processes of a deployment do not knock on a restarted node all at the same instant.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

FIRST_SECONDS = 0.25
LONGEST_SECONDS = 1.5
HEALTHY_SECONDS = 5.0  # a connection up this long was not a blip: the next wait starts from the first


class Backoff:
    def __init__(
        self,
        first: float = FIRST_SECONDS,
        longest: float = LONGEST_SECONDS,
        healthy: float = HEALTHY_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        spread: Callable[[], float] = lambda: random.uniform(0.8, 1.0),
    ) -> None:
        self.first = first
        self.longest = max(longest, first)
        self.healthy = healthy
        self._clock = clock
        self._spread = spread
        self._next = first
        self._up_since: float | None = None

    def connected(self) -> None:
        """A connection is up (and its channel usable)."""
        self._up_since = self._clock()

    def wait(self) -> float:
        """Seconds to wait before the next attempt, after a connection was lost or not made."""
        if self._up_since is not None and self._clock() - self._up_since >= self.healthy:
            self._next = self.first
        self._up_since = None
        delay = self._next
        self._next = min(self._next * 2, self.longest)
        return delay * self._spread()
