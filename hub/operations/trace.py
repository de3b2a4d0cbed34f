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

from sqlalchemy import select

from hub.store.failed import FailedStore, failed_messages
from hub.store.message_log import MessageLog
from hub.store.status import StatusStore, message_status, receipts


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    what: str
    detail: str


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


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
    with status.engine.connect() as conn:
        row = conn.execute(
            select(message_status, receipts.c.operation, receipts.c.user_id, receipts.c.accepted_at.label("given"))
            .select_from(message_status.outerjoin(receipts, receipts.c.receipt_id == message_status.c.receipt_id))
            .where(message_status.c.message_id == message_id)
        ).first()
        stored = conn.execute(select(failed_messages).where(failed_messages.c.message_id == message_id)).first()
    if row is not None:
        steps.append(
            Step(
                _aware(row.accepted_at),
                "received",
                f"{row.type} from {row.source} ({row.operation or 'no receipt given'}, record {row.record_id}, "
                f"index {row.record_index}) by {row.user_id or '?'}; receipt {row.receipt_id}",
            )
        )
        steps.append(
            Step(
                _aware(row.accepted_at),
                "validated",
                f"the {row.source} schema and the rules of {row.type}, with the rest of its load",
            )
        )
        if row.given is not None:
            steps.append(Step(_aware(row.given), "published", f"confirmed by the broker, for {row.target}"))
    events = log.events(message_id)
    for event in events:
        steps.append(Step(event.at, event.event, _describe(event.event, event.detail)))
    if row is not None and row.status == "delivered" and not any(e.event == "delivered" for e in events):
        latency = round((_aware(row.updated_at) - _aware(row.accepted_at)).total_seconds() * 1000)
        detail = {"target": row.target, "attempt": 1, "latency_ms": latency}  # the first try: only the status says so
        steps.append(Step(_aware(row.updated_at), "delivered", _describe("delivered", detail)))
    if row is not None:
        reason = f": {row.error_class}: {row.reason}" if row.error_class else ""
        steps.append(Step(_aware(row.updated_at), "now", f"{row.status}{reason}"))
    if stored is not None:
        steps.append(
            Step(
                _aware(stored.updated_at),
                "store",
                f"failed-message store entry {stored.id}: {stored.state}, group {stored.group_id}, "
                f"replays {stored.replay_count}",
            )
        )
    return sorted(steps, key=lambda s: (s.at, s.what == "now"))
