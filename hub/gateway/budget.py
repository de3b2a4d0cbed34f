"""A CPU budget per request: each step of preparing one is bounded by the parser's limits, and the
budget bounds their sum, so no request, authenticated or not, holds a preparing thread or process
for long. It is checked between the steps; a step that has begun runs to its end."""

from __future__ import annotations

import time

from hub.errors import ValidationFailed


class Budget:
    def __init__(self, cpu_seconds: float) -> None:
        self.cpu_seconds = cpu_seconds
        self.started = time.thread_time()

    def spent(self, step: str) -> None:
        """Refuse the request once its CPU time so far is over the budget; `step` is what just ended."""
        used = time.thread_time() - self.started
        if used > self.cpu_seconds:
            raise ValidationFailed.single(
                "(document)",
                "cpu-budget",
                f"checking this request took {used:.1f} s of CPU by the end of its {step}, "
                f"the limit is {self.cpu_seconds:g} s; send smaller loads",
            )
