"""The audit trail: who asked what about whom (per-person queries, the person as a pseudonym) and
which operator did what to which messages, when and why.

Each entry carries the hash of the one before it, so a changed or removed entry breaks the chain
that `AuditLog.verify` walks. Someone who can write the database could still rewrite the whole
chain from the change onwards, or cut its tail; so the hub writes the chain's head to its log every
hour (a witness kept elsewhere), and `verify` checks any such anchor is still in the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, select

from hub.store.db import Database, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

GENESIS = "0" * 64
_HEAD = select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
_APPEND = audit_log.insert()  # values bound per call, so the compiled statement is cached


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    operator: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]


def _digest(
    prev_hash: str, at: dt.datetime, operator: str, action: str, subject: str, reason: str, details: str
) -> str:
    stamp = at.astimezone(dt.UTC).isoformat()
    material = json.dumps([prev_hash, stamp, operator, action, subject, reason, details], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.scrub = db.scrub
        # one append at a time in this process: two that read the same head would fork the chain
        # (other processes are kept out by the database: PostgreSQL's table lock, SQLite's writer lock)
        self._appending = threading.Lock()

    def record(self, *, operator: str, action: str, subject: str, reason: str, details: dict[str, Any]) -> None:
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        text = self.scrub(json.dumps(details, sort_keys=True, ensure_ascii=False, default=str))
        reason = self.scrub(reason)
        with self._appending, self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
            prev = conn.execute(_HEAD).scalar() or GENESIS
            conn.execute(
                _APPEND,
                {
                    "at": at,
                    "operator": operator,
                    "action": action,
                    "subject": subject,
                    "reason": reason,
                    "details": text,
                    "prev_hash": prev,
                    "hash": _digest(prev, at, operator, action, subject, reason, text),
                },
            )

    def entries(self, limit: int = 100) -> list[AuditEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
        return [
            AuditEntry(
                r.id,
                r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
                r.operator,
                r.action,
                r.subject,
                r.reason,
                json.loads(r.details),
            )
            for r in rows
        ]

    def head(self) -> tuple[int, str] | None:
        """The last entry's id and hash: an anchor to keep outside the database."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
            ).first()
        return (row.id, row.hash) if row else None

    def verify(self, anchors: Mapping[int, str] | None = None) -> tuple[bool, int | None]:
        """(True, None) when the chain is whole and holds every anchor (entry id -> its hash, as
        written to the log earlier), else (False, id of the first entry that breaks it)."""
        anchors = dict(anchors or {})
        prev = GENESIS
        with self.engine.connect() as conn:
            for r in conn.execute(select(audit_log).order_by(audit_log.c.id)):
                at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
                expected = _digest(prev, at, r.operator, r.action, r.subject, r.reason, r.details)
                if r.prev_hash != prev or r.hash != expected or anchors.pop(r.id, r.hash) != r.hash:
                    return False, r.id
                prev = r.hash
        if anchors:  # anchored entries that are no longer there: the tail was cut
            return False, min(anchors)
        return True, None
