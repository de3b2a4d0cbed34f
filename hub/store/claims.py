"""Who is giving a data load its receipt right now: one request per MessageID, whatever the concurrency.

A partner that times out sends its load again, and a client library may send it several times at
once. Before a load is staged, its request claims the load's receipt id here; only the holder stores
and publishes it. A copy that finds the claim held waits for the holder's outcome: the receipt (then
it answers the same receipt) or the Fault the holder answered (then it answers the same Fault). The
claim is a row in the hub's database, so it holds across a gateway's threads and processes and
across gateway hosts sharing a PostgreSQL store.

A holder's work is bounded (staging, then at most the publish timeout), so a claim older than that
(its gateway died mid-request) or one that ended in a Fault is taken over by the next copy, which
stages the load again under the ids its rows were stored with.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import Column, Connection, DateTime, LargeBinary, String, Table, bindparam, delete, or_, select, update

from hub.store.db import Database, metadata

receipt_claims = Table(
    "receipt_claims",
    metadata,
    Column("receipt_id", String(36), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("holder", String(36), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("fault", LargeBinary),  # the holder's answer when it refused the load: a soap:Fault element
)


# Built once, as every load's receipt runs it: a statement built per call is keyed for the compiled cache again.
_SETTLE = delete(receipt_claims).where(receipt_claims.c.receipt_id == bindparam("receipt_id"))


class Claimed(enum.Enum):
    OURS = "ours"  # stage and publish it
    HELD = "held"  # another request is giving this load its receipt: wait for its outcome
    OTHER_BODY = "other-body"  # held for a different message under the same MessageID


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a waiting copy learns of the holder: still at work, gone, or refused with `fault`."""

    held: bool
    fault: bytes | None = None


class ReceiptClaims:
    def __init__(self, db: Database) -> None:
        db.create(receipt_claims)
        self.engine = db.engine
        self._insert = db.insert_if_new(receipt_claims)

    def claim(
        self, receipt_id: str, source: str, body_sha256: str, holder: str, now: dt.datetime, stale: dt.timedelta
    ) -> Claimed:
        """`stale`: how long a holder may take; a claim older than that is taken over."""
        row = {"receipt_id": receipt_id, "source": source, "body_sha256": body_sha256, "holder": holder}
        with self.engine.begin() as conn:
            if conn.execute(self._insert, {**row, "claimed_at": now}).first() is not None:
                return Claimed.OURS
            c = receipt_claims.c
            taken_over = conn.execute(
                update(receipt_claims)
                .where(
                    c.receipt_id == receipt_id,
                    c.source == source,
                    c.body_sha256 == body_sha256,
                    or_(c.fault.is_not(None), c.claimed_at < now - stale),
                )
                .values(holder=holder, claimed_at=now, fault=None)
            )
            if taken_over.rowcount == 1:
                return Claimed.OURS
            held = conn.execute(select(c.source, c.body_sha256).where(c.receipt_id == receipt_id)).first()
        if held is not None and (held.source, held.body_sha256) != (source, body_sha256):
            return Claimed.OTHER_BODY
        return Claimed.HELD  # or ended since the insert: the receipt given meanwhile answers the copy

    def outcome(self, receipt_id: str) -> Outcome:
        with self.engine.connect() as conn:
            row = conn.execute(select(receipt_claims.c.fault).where(receipt_claims.c.receipt_id == receipt_id)).first()
        if row is None:
            return Outcome(held=False)
        return Outcome(held=row.fault is None, fault=row.fault)

    @staticmethod
    def settle(conn: Connection, receipt_id: str) -> None:
        """The receipt was given (in `conn`'s transaction): the receipt itself answers copies from now on."""
        conn.execute(_SETTLE, {"receipt_id": receipt_id})

    @staticmethod
    def refuse(conn: Connection, receipt_id: str, holder: str, fault: bytes) -> None:
        """The holder answered `fault`: copies waiting answer it too; the next copy may try again."""
        conn.execute(
            update(receipt_claims)
            .where(receipt_claims.c.receipt_id == receipt_id, receipt_claims.c.holder == holder)
            .values(fault=fault)
        )

    def release(self, receipt_id: str, holder: str) -> None:
        """The holder found the receipt already given (a copy that finished first): nothing to wait for."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(receipt_claims).where(
                    receipt_claims.c.receipt_id == receipt_id, receipt_claims.c.holder == holder
                )
            )

    def forget(self, before: dt.datetime) -> int:
        """Drop claims made before `before`: their loads were refused or their gateways died long ago."""
        with self.engine.begin() as conn:
            return conn.execute(delete(receipt_claims).where(receipt_claims.c.claimed_at < before)).rowcount
