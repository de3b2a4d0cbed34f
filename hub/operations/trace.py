"""`hub trace MESSAGE_ID`: one message's journey, from the receipt to its last event.

Built from the receipt and the record's status (received, validated and published: the whole load is
validated before anything is queued and the receipt is given only after the broker confirmed every
record, so the three share the receipt's time; also a delivery at the first try, which the message
log does not repeat), the message log (each attempt and its outcome, retries, the failed-message
store, replays) and the failed-message store's entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hub.store.failed import FailedStore
from hub.store.message_log import MessageLog
from hub.store.status import RecordState, StatusStore


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    what: str
    detail: str


def _describe(event: str, detail: dict[str, object]) -> str:
    if event == "delivered":
        had = " (the target already had it)" if detail.get("target_had_it") else ""
        return (
            f"to {detail.get('target')} on attempt {detail.get('attempt')}, "
            f"{detail.get('latency_ms')} ms after the receipt{had}"
        )
    if event == "retry_scheduled":
        return (
            f"attempt {detail.get('attempt')} failed ({detail.get('error_class')}: {detail.get('error')}); "
            f"next in {detail.get('delay_s')} s"
        )
    if event == "failed":
        return f"into the failed-message store: {detail.get('error_class')}: {detail.get('reason')}"
    return ", ".join(f"{k} {v}" for k, v in detail.items())


def trace(message_id: str, status: StatusStore, failed: FailedStore, log: MessageLog) -> list[Step]:
    steps: list[Step] = []
    record = status.record_trace(message_id)
    stored = failed.entry_for(message_id)
    if record is not None:
        steps.append(
            Step(
                record.accepted_at,
                "received",
                f"{record.type} from {record.source} ({record.operation or 'no receipt given'}, record "
                f"{record.record_id}, index {record.record_index}) by {record.user_id or '?'}; "
                f"receipt {record.receipt_id}",
            )
        )
        steps.append(
            Step(
                record.accepted_at,
                "validated",
                f"the {record.source} schema and the rules of {record.type}, with the rest of its load",
            )
        )
        if record.receipt_given_at is not None:
            steps.append(Step(record.receipt_given_at, "published", f"confirmed by the broker, for {record.target}"))
    events = log.events(message_id)
    for event in events:
        steps.append(Step(event.at, event.event, _describe(event.event, event.detail)))
    if record is not None:
        if record.state is RecordState.DELIVERED and not any(e.event == "delivered" for e in events):
            latency = round((record.updated_at - record.accepted_at).total_seconds() * 1000)
            detail = {"target": record.target, "attempt": 1, "latency_ms": latency}  # the first try: status only
            steps.append(Step(record.updated_at, "delivered", _describe("delivered", detail)))
        reason = f": {record.error_class}: {record.reason}" if record.error_class else ""
        steps.append(Step(record.updated_at, "now", f"{record.state}{reason}"))
    if stored is not None:
        steps.append(
            Step(
                stored.updated_at,
                "store",
                f"failed-message store entry {stored.id}: {stored.state}, group {stored.group_id}, "
                f"replays {stored.replay_count}",
            )
        )
    return sorted(steps, key=lambda s: (s.at, s.what == "now"))
