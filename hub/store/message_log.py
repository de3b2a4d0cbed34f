"""The message log: what happened to each message after the gateway accepted it, for `hub trace`.

Events name the step and its outcome (delivered, retry scheduled, failed, replayed, …) with ids,
classes and timings, never the payload. Kept for HUB_MESSAGE_LOG_RETENTION_DAYS.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, delete, select

from hub.envelope import utcnow
from hub.store.db import Database, metadata

message_events = Table(
    "message_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Index("message_events_by_message", "message_id", "at"),
    Index("message_events_by_time", "at"),
)


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    event: str
    detail: dict[str, Any]


class MessageLog:
    def __init__(self, db: Database) -> None:
        db.create(message_events)
        self.engine = db.engine
        self.scrub = db.scrub

    def record(self, events: Iterable[tuple[str, str, dict[str, Any]]], at: dt.datetime | None = None) -> None:
        """`events` holds (message id, event, detail)."""
        when = at or utcnow()
        rows = [
            {"message_id": mid, "at": when, "event": event, "detail": self.scrub(json.dumps(detail, default=str))}
            for mid, event, detail in events
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(message_events.insert(), rows)

    def events(self, message_id: str) -> list[Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(message_events)
                .where(message_events.c.message_id == message_id)
                .order_by(message_events.c.at, message_events.c.id)
            ).all()
        return [
            Event(r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC), r.event, json.loads(r.detail)) for r in rows
        ]

    def purge(self, before: dt.datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(message_events).where(message_events.c.at < before)).rowcount
