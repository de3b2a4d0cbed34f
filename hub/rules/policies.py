"""The policies routes name (config/routes.toml): how a target's failures are retried, and when its
circuit opens.

Retries: quick in-process ones for blips, run inside the worker with tenacity, bounded and jittered;
after them a message goes back to the broker with a growing delay (never blocking a worker), until
`max_attempts` or `max_age_seconds`, and then to the failed-message store. The circuit: that many
failed calls in a row open it for a while, then one probe decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from hub.errors import classify

T = TypeVar("T")


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    quick_attempts: int = Field(3, ge=1, le=10, description="calls in a row inside the worker, the first included")
    quick_initial_seconds: float = Field(0.2, ge=0)
    quick_max_seconds: float = Field(2.0, ge=0)
    delays_seconds: tuple[float, ...] = Field((5, 30, 120, 600, 3600), min_length=1)
    max_attempts: int = Field(10, ge=1, description="broker redeliveries before the failed-message store")
    max_age_seconds: float = Field(86400, gt=0, description="age after which a message is not retried")

    @field_validator("delays_seconds")
    @classmethod
    def _positive(cls, delays: tuple[float, ...]) -> tuple[float, ...]:
        if any(d <= 0 for d in delays):
            raise ValueError("delays must be positive")
        return delays

    def delay_for(self, attempt: int) -> float:
        """Delay before broker attempt `attempt` (1 = the first redelivery)."""
        return self.delays_seconds[min(attempt, len(self.delays_seconds)) - 1]

    def exhausted(self, attempt: int, created_at: dt.datetime, now: dt.datetime) -> bool:
        return attempt > self.max_attempts or (now - created_at).total_seconds() > self.max_age_seconds

    def quick(self, call: Callable[[], T]) -> T:
        """Run `call`, retrying transient errors a few times with jittered backoff; re-raise the last."""
        retrying = Retrying(
            stop=stop_after_attempt(self.quick_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.quick_initial_seconds, jitter=self.quick_initial_seconds, max=self.quick_max_seconds
            ),
            retry=retry_if_exception(lambda exc: not classify(exc)[1]),
            reraise=True,
        )
        return retrying(call)


class BreakerSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    failures: int = Field(5, ge=1, description="failed calls in a row that open the circuit")
    open_seconds: float = Field(30, gt=0, description="wait before a half-open probe")
