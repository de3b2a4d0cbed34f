"""MessageIDs already used for queries and status questions, per sender, while a signed copy could
still be accepted: a captured query sent again, byte for byte, within its timestamp's window is
refused instead of answered again. Kept in the database, so it holds across gateway processes,
hosts and restarts. (A data load sent again keeps its MessageID on purpose: its receipt says so.)
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, DateTime, String, Table, delete

from hub.store.db import Database, metadata

used_message_ids = Table(
    "used_message_ids",
    metadata,
    Column("sender", String(32), primary_key=True),
    Column("message_id", String(36), primary_key=True),
    Column("until", DateTime(timezone=True), nullable=False, index=True),
)


class UsedMessageIds:
    def __init__(self, db: Database) -> None:
        db.create(used_message_ids)
        self.engine = db.engine
        self._claim = db.insert_if_new(used_message_ids)

    def claim(self, sender: str, message_id: str, until: dt.datetime) -> bool:
        """True for the first use of `message_id` by `sender`, False for any later one."""
        with self.engine.begin() as conn:
            inserted = conn.execute(self._claim, {"sender": sender, "message_id": message_id, "until": until})
            return inserted.first() is not None

    def forget(self, before: dt.datetime) -> int:
        """Drop the claims that ended before `before`: no message they guard can be accepted any more."""
        with self.engine.begin() as conn:
            return conn.execute(delete(used_message_ids).where(used_message_ids.c.until < before)).rowcount
