"""Receipts and the status of each accepted record: what the status query answers.

A record's row is written before it is published, so a worker can never confirm a delivery
the store does not know yet; the receipt is written only after the broker confirmed all of
its records, so a receipt that exists is a promise the hub keeps. `StatusStore` is the only writer
of a record's state (`RecordState`): accepted -> delivered, accepted -> failed, and failed ->
accepted when an operator replays it; a delivered record stays delivered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lxml import etree
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Table,
    Text,
    bindparam,
    case,
    delete,
    func,
    select,
    update,
)

from hub.canonical.types import RECORD_ID_MAX
from hub.store.claims import ReceiptClaims
from hub.store.db import Database, metadata
from hub.xml.parser import HardenedParser

# Each request as the sender sent it (its signature included), sealed: kept once, not once per record.
requests = Table(
    "requests",
    metadata,
    Column("receipt_id", String(36), primary_key=True),
    Column("request", LargeBinary, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)

receipts = Table(
    "receipts",
    metadata,
    Column("receipt_id", String(36), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)

message_status = Table(
    "message_status",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("receipt_id", String(36), nullable=False, index=True),
    Column("record_index", Integer, nullable=False),
    Column("record_id", String(RECORD_ID_MAX), nullable=False),
    Column("source", String(32), nullable=False),
    Column("target", String(32), nullable=False),
    Column("type", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_class", String(64)),
    Column("reason", Text),
    Column("source_path", String(500)),  # where the record stands in its request (ElementPath)
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("message_status_by_target", "status", "target", "accepted_at"),
    # a correction is told by the receipts its record id was given before: without this, every load that
    # notes corrections reads the whole table
    Index("message_status_by_record_id", "record_id"),
)


class RecordState(StrEnum):
    ACCEPTED = "accepted"  # waiting for its target (or for a retry)
    DELIVERED = "delivered"
    FAILED = "failed"  # in the failed-message store, until an operator replays or discards it


@dataclass(frozen=True, slots=True)
class RecordRow:
    message_id: str
    record_index: int
    record_id: str
    target: str
    type: str
    source_path: str | None = field(default=None, compare=False, repr=False)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its values: a load's rows cross back from the gateway's pool, and a frozen
        dataclass's own unpickling sets each field through `dataclasses.fields`, which is slower."""
        return RecordRow, (self.message_id, self.record_index, self.record_id, self.target, self.type, self.source_path)


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_id: str
    source: str
    operation: str
    body_sha256: str
    record_count: int
    accepted_at: dt.datetime
    records: tuple[RecordRow, ...] = ()
    notices: tuple[tuple[int, str], ...] = ()  # (record index, what the sender should know)


@dataclass(frozen=True, slots=True)
class RecordStatus:
    message_id: str
    record_id: str
    status: str
    updated_at: dt.datetime
    error_class: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class RecordTrace:
    """A record's status row and its receipt's (None where no receipt was given)."""

    receipt_id: str
    record_index: int
    record_id: str
    source: str
    target: str
    type: str
    state: RecordState
    error_class: str | None
    reason: str | None
    accepted_at: dt.datetime
    updated_at: dt.datetime
    operation: str | None
    user_id: str | None
    receipt_given_at: dt.datetime | None


@dataclass(slots=True)
class RecentCounts:
    """Records by status, of those accepted in the last day and in the last hour."""

    day: dict[str, int] = field(default_factory=dict)
    hour: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReceiptStatus:
    receipt_id: str
    source: str  # who sent the receipt's request: the only system that may ask about it
    counts: dict[str, int]
    records: list[RecordStatus]


_PENDING_COLUMNS = (
    "message_id",
    "receipt_id",
    "record_index",
    "record_id",
    "source",
    "target",
    "type",
    "status",
    "source_path",
    "accepted_at",
    "updated_at",
)


def _rows_of(*columns: Column[Any]) -> Select[Any]:
    """Those columns of a receipt's status rows, in record order."""
    return (
        select(*columns)
        .where(message_status.c.receipt_id == bindparam("receipt_id"))
        .order_by(message_status.c.record_index)
    )


# Built once: a statement built per call is keyed for the compiled cache again each time, which costs
# more than the lookups themselves.
_RECEIPT = select(receipts).where(receipts.c.receipt_id == bindparam("receipt_id"))
_RECEIPT_ROWS = _rows_of(
    message_status.c.message_id,
    message_status.c.record_index,
    message_status.c.record_id,
    message_status.c.target,
    message_status.c.type,
)
_ROW_IDS = _rows_of(message_status.c.message_id)


_FAIL = (
    update(message_status)
    .where(message_status.c.message_id == bindparam("mid"), message_status.c.status != RecordState.DELIVERED)
    .values(
        status=RecordState.FAILED, error_class=bindparam("cls"), reason=bindparam("why"), updated_at=bindparam("at")
    )
)
_ACCEPT_AGAIN = (
    update(message_status)
    .where(message_status.c.message_id == bindparam("mid"), message_status.c.status == RecordState.FAILED)
    .values(status=RecordState.ACCEPTED, error_class=None, reason=None, updated_at=bindparam("at"))
)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class StatusStore:
    def __init__(self, db: Database) -> None:
        db.create(requests, receipts, message_status)
        self.db = db
        self.engine = db.engine
        self._insert_pending = db.bulk_insert_ignoring_duplicates(message_status, _PENDING_COLUMNS)
        self._insert_request = db.insert_ignoring_duplicates(requests)
        self._insert_receipt = db.insert_ignoring_duplicates(receipts)
        self.claims = ReceiptClaims(db)
        ids = db.among(message_status.c.message_id)
        self._delivered_among = select(message_status.c.message_id).where(
            ids, db.not_searched(message_status.c.status) == RecordState.DELIVERED
        )
        self._mark_delivered = (
            update(message_status)
            .where(ids, message_status.c.status != RecordState.DELIVERED)
            .values(status=RecordState.DELIVERED, updated_at=bindparam("at"), error_class=None, reason=None)
            .returning(message_status.c.message_id)
        )

    def find_receipt(self, receipt_id: str) -> Receipt | None:
        with self.engine.connect() as conn:
            return self._receipt(conn, receipt_id)

    def given_or_pending(self, receipt_id: str) -> Receipt | list[str]:
        """What the holder of a load's claim looks at before staging it, in one visit to the store: its
        receipt if one was given, else the message ids of its rows stored before it was given (a publish
        not confirmed, a crash), in record order, empty when there are none."""
        with self.engine.connect() as conn:
            given = self._receipt(conn, receipt_id)
            if given is not None:
                return given
            return list(conn.execute(_ROW_IDS, {"receipt_id": receipt_id}).scalars())

    @staticmethod
    def _receipt(conn: Connection, receipt_id: str) -> Receipt | None:
        key = {"receipt_id": receipt_id}
        row = conn.execute(_RECEIPT, key).first()
        if row is None:
            return None
        records = conn.execute(_RECEIPT_ROWS, key).all()
        return Receipt(
            receipt_id=row.receipt_id,
            source=row.source,
            operation=row.operation,
            body_sha256=row.body_sha256,
            record_count=row.record_count,
            accepted_at=_aware(row.accepted_at),
            records=tuple(RecordRow(*r) for r in records),
        )

    def add_pending(
        self, receipt_id: str, source: str, rows: Sequence[RecordRow], at: dt.datetime, request: bytes | None = None
    ) -> None:
        """Rows for records about to be published, and the request they came in (sealed); a resend of
        the same receipt leaves what exists."""
        with self.engine.begin() as conn:
            if request is not None:
                conn.execute(
                    self._insert_request,
                    {"receipt_id": receipt_id, "request": self.db.sealer.seal(request), "at": at},
                )
            self._insert_pending(
                conn,
                [
                    {
                        "message_id": r.message_id,
                        "receipt_id": receipt_id,
                        "record_index": r.record_index,
                        "record_id": r.record_id,
                        "source": source,
                        "target": r.target,
                        "type": r.type,
                        "status": RecordState.ACCEPTED,
                        "source_path": r.source_path,
                        "accepted_at": at,
                        "updated_at": at,
                    }
                    for r in rows
                ],
            )

    def discard_pending(self, receipt_id: str, holder: str, fault: bytes) -> None:
        """The load was refused after its claim (the broker did not confirm, say): forget rows of a
        receipt that was never given, and leave `fault` for the copies waiting on the claim."""
        with self.engine.begin() as conn:
            if conn.execute(select(receipts.c.receipt_id).where(receipts.c.receipt_id == receipt_id)).first():
                return
            ReceiptClaims.refuse(conn, receipt_id, holder, fault)
            conn.execute(
                delete(message_status).where(
                    message_status.c.receipt_id == receipt_id, message_status.c.status == RecordState.ACCEPTED
                )
            )
            conn.execute(delete(requests).where(requests.c.receipt_id == receipt_id))

    def add_receipt(self, receipt: Receipt, user_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self._insert_receipt,
                {
                    "receipt_id": receipt.receipt_id,
                    "source": receipt.source,
                    "operation": receipt.operation,
                    "body_sha256": receipt.body_sha256,
                    "record_count": receipt.record_count,
                    "user_id": user_id,
                    "accepted_at": receipt.accepted_at,
                },
            )
            ReceiptClaims.settle(conn, receipt.receipt_id)

    def mark_delivered(self, message_ids: Iterable[str], at: dt.datetime) -> set[str]:
        """Those of `message_ids` this call moved to delivered: a record two workers delivered at once (a
        bundle handed out again while its first worker was still at it) is delivered once, by one."""
        ids = list(message_ids)
        if not ids:
            return set()
        with self.engine.begin() as conn:  # one statement for the batch, not one execution per record
            moved = conn.execute(self._mark_delivered, {"ids": self.db.ids_parameter(ids), "at": at})
            return set(moved.scalars())

    def mark_failed(
        self, failures: Iterable[tuple[str, str, str]], at: dt.datetime, *, within: Connection | None = None
    ) -> None:
        """`failures` holds (message_id, error_class, reason); a delivered record stays delivered.
        `within`: the transaction that stores the failures, so status and store never disagree."""
        params = [{"mid": mid, "cls": cls, "why": self.db.reason(why), "at": at} for mid, cls, why in failures]
        if params:
            self._write(_FAIL, params, within)

    def mark_accepted_again(
        self, message_ids: Sequence[str], at: dt.datetime, *, within: Connection | None = None
    ) -> None:
        """Failed records an operator replayed: waiting for their target again."""
        if message_ids:
            self._write(_ACCEPT_AGAIN, [{"mid": mid, "at": at} for mid in message_ids], within)

    def _write(self, statement: Any, params: list[dict[str, Any]], within: Connection | None) -> None:
        if within is not None:
            within.execute(statement, params)
            return
        with self.engine.begin() as conn:
            conn.execute(statement, params)

    def receipt_status(self, receipt_id: str) -> ReceiptStatus | None:
        with self.engine.connect() as conn:
            source = self._sender(conn, receipt_id)
            if source is None:
                return None
            rows = conn.execute(
                select(message_status)
                .where(message_status.c.receipt_id == receipt_id)
                .order_by(message_status.c.record_index)
            ).all()
        return self._status(receipt_id, source, rows)

    def message_status(self, message_id: str) -> ReceiptStatus | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(message_status).where(message_status.c.message_id == message_id)).first()
            source = self._sender(conn, row.receipt_id) if row is not None else None
        if row is None or source is None:
            return None
        return self._status(row.receipt_id, source, [row])

    @staticmethod
    def _sender(conn, receipt_id: str) -> str | None:  # type: ignore[no-untyped-def]
        """Who sent the receipt's request; None when there is no such receipt."""
        return conn.execute(select(receipts.c.source).where(receipts.c.receipt_id == receipt_id)).scalar()

    @staticmethod
    def _status(receipt_id: str, source: str, rows: Sequence) -> ReceiptStatus:  # type: ignore[type-arg]
        counts = {state.value: 0 for state in RecordState}
        records = []
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
            records.append(
                RecordStatus(
                    row.message_id, row.record_id, row.status, _aware(row.updated_at), row.error_class, row.reason
                )
            )
        return ReceiptStatus(receipt_id, source, counts, records)

    def forget_payloads(self, before: dt.datetime) -> int:
        """Delete the requests received before `before`; records keep their ids and status."""
        with self.engine.begin() as conn:
            return conn.execute(delete(requests).where(requests.c.at < before)).rowcount

    def oldest_undelivered(self, target: str) -> dt.datetime | None:
        """When the oldest record still waiting for `target` was accepted: one index lookup, however
        long the backlog."""
        c = message_status.c
        with self.engine.connect() as conn:
            oldest = conn.execute(
                select(func.min(c.accepted_at)).where(c.status == RecordState.ACCEPTED, c.target == target)
            ).scalar()
        return _aware(oldest) if oldest else None

    def target_counts(self, targets: Sequence[str], since: dt.datetime, recent: dt.datetime) -> dict[str, RecentCounts]:
        """Per target, the records accepted since `since` and since `recent` by their status now: read
        from the status-target-time index alone, a range per status and target."""
        c = message_status.c
        query = (
            select(
                c.target,
                c.status,
                func.count().label("day"),
                func.sum(case((c.accepted_at >= recent, 1), else_=0)).label("hour"),
            )
            .where(c.status.in_(tuple(RecordState)), c.target.in_(list(targets)), c.accepted_at >= since)
            .group_by(c.target, c.status)
        )
        counts: dict[str, RecentCounts] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                target = counts.setdefault(row.target, RecentCounts())
                target.day[row.status] = row.day
                target.hour[row.status] = int(row.hour or 0)
        return counts

    def flow_counts(self, targets: Sequence[str], since: dt.datetime) -> dict[tuple[str, str, str], dict[str, int]]:
        """Per sender, type and target, the records accepted since `since` by their status now. It
        reads each record's row (the index holds neither sender nor type): meant for the last hour."""
        c = message_status.c
        query = (
            select(c.source, c.type, c.target, c.status, func.count().label("records"))
            .where(c.status.in_(tuple(RecordState)), c.target.in_(list(targets)), c.accepted_at >= since)
            .group_by(c.source, c.type, c.target, c.status)
        )
        counts: dict[tuple[str, str, str], dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                counts.setdefault((row.source, row.type, row.target), {})[row.status] = row.records
        return counts

    def counts(self) -> dict[str, int]:
        """Records per status across all receipts (the demo's progress)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(message_status.c.status, func.count()).group_by(message_status.c.status)).all()
        return {status: count for status, count in rows}

    def versions_given(self, source: str, type_: str, record_ids: Iterable[str]) -> dict[str, int]:
        """How many receipts were given for each record id of a type from a source."""
        ids = list(record_ids)
        if not ids:
            return {}
        c = message_status.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.record_id, func.count())
                .select_from(message_status.join(receipts, receipts.c.receipt_id == c.receipt_id))
                .where(c.source == source, c.type == type_, c.record_id.in_(ids))
                .group_by(c.record_id)
            )
            return {record_id: count for record_id, count in rows}

    def delivered_among(self, message_ids: Iterable[str]) -> set[str]:
        """Those of `message_ids` already delivered: the hub's own dedupe before calling a target."""
        ids = list(message_ids)
        if not ids:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(self._delivered_among, {"ids": self.db.ids_parameter(ids)}).scalars())

    def source_xml(self, message_id: str, *, within: Connection | None = None) -> bytes | None:
        """A record as its sender wrote it, cut from the stored request; None once the request is gone."""
        if within is None:
            with self.engine.connect() as conn:
                return self.source_xml(message_id, within=conn)
        row = within.execute(
            select(message_status.c.source_path, requests.c.request)
            .select_from(message_status.join(requests, requests.c.receipt_id == message_status.c.receipt_id))
            .where(message_status.c.message_id == message_id)
        ).first()
        if row is None or not row.source_path:
            return None
        element = _REQUESTS.parse(self.db.sealer.open(row.request)).find(row.source_path)
        return etree.tostring(element, encoding="UTF-8") if element is not None else None

    def record_trace(self, message_id: str) -> RecordTrace | None:
        """A record's row with its receipt's, for `hub trace`."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(message_status, receipts.c.operation, receipts.c.user_id, receipts.c.accepted_at.label("given"))
                .select_from(message_status.outerjoin(receipts, receipts.c.receipt_id == message_status.c.receipt_id))
                .where(message_status.c.message_id == message_id)
            ).first()
        if row is None:
            return None
        return RecordTrace(
            receipt_id=row.receipt_id,
            record_index=row.record_index,
            record_id=row.record_id,
            source=row.source,
            target=row.target,
            type=row.type,
            state=RecordState(row.status),
            error_class=row.error_class,
            reason=row.reason,
            accepted_at=_aware(row.accepted_at),
            updated_at=_aware(row.updated_at),
            operation=row.operation,
            user_id=row.user_id,
            receipt_given_at=_aware(row.given) if row.given is not None else None,
        )

    def rotate_keys(self, within: Connection) -> int:
        """Re-seal the stored requests with the newest key; how many were re-sealed."""
        done = 0
        for row in within.execute(select(requests.c.receipt_id, requests.c.request)):
            within.execute(
                update(requests)
                .where(requests.c.receipt_id == row.receipt_id)
                .values(request=self.db.sealer.rotate(row.request))
            )
            done += 1
        return done


_REQUESTS = HardenedParser(max_bytes=1 << 30, max_depth=200)  # requests the gateway accepted once
