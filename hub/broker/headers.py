"""The hub's own AMQP headers, in one place: what each says, and which travel with a message that is
published again (a retry, a replay) and which belong to one publish only."""

from __future__ import annotations

from collections.abc import Mapping

SOURCE = "hub-source"  # the system that sent the record
TARGET = "hub-target"  # the system it goes to
RECORDS = "hub-records"  # how many records the message carries (a bundle): the consumer loop batches by it
ATTEMPT = "hub-attempt"  # deliveries tried so far, for a message waiting out a retry delay
HISTORY = "hub-history"  # its attempts (JSON, the last HISTORY_KEPT), for the failed-message store
HISTORY_KEPT = 10
REPLAYS = "hub-replay-count"  # how often operators replayed it
DEADLINE = "hub-deadline"  # a query: when its caller stops waiting, epoch milliseconds


def carried(headers: Mapping[str, object]) -> dict[str, str | int]:
    """The hub's headers that stay with a message published again: all but its record count, which
    belongs to the bundle it came in."""
    return {k: v for k, v in headers.items() if k.startswith("hub-") and k != RECORDS and isinstance(v, str | int)}
