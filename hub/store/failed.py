"""The failed-message store: every message that failed for good, with its reason and history,
until an operator replays or discards it.

The envelope and the original XML are sealed (encrypted at rest); what operators filter and group
on (systems, type, error class, times) stays in clear columns. Messages that fail in the same way
share a group: target, error class and the reason with its numbers and ids blanked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    func,
    select,
    true,
    update,
)

from hub.envelope import Envelope
from hub.store.db import Database, metadata
from hub.store.status import StatusStore

failed_messages = Table(
    "failed_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("receipt_id", String(36), nullable=False, index=True),
    Column("source", String(32), nullable=False, index=True),
    Column("target", String(32), nullable=False, index=True),
    Column("type", String(100), nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),  # failed, replayed, discarded, resolved
    Column("error_class", String(64), nullable=False, index=True),
    Column("error_message", Text, nullable=False),
    Column("group_id", String(12), nullable=False, index=True),
    Column("attempts", Text, nullable=False),  # JSON list of {at, error_class, message}
    Column("replay_count", Integer, nullable=False, default=0),
    Column("envelope", LargeBinary, nullable=False),  # sealed JSON
    Column("source_xml", LargeBinary),  # sealed
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

_VARIABLE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+(?:[.,]\d+)*", re.I)


class FailedState(StrEnum):
    FAILED = "failed"  # waiting for an operator
    REPLAYED = "replayed"  # sent again; resolved once delivered, failed again if not
    DISCARDED = "discarded"  # given up on, with a reason in the audit trail
    RESOLVED = "resolved"  # replayed and delivered


def group_of(target: str, error_class: str, message: str) -> str:
    """Failures alike but for numbers and ids share a group id."""
    key = f"{target}|{error_class}|{_VARIABLE.sub('#', message)[:200]}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Attempt:
    at: dt.datetime
    error_class: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "error_class": self.error_class, "message": self.message[:500]}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Attempt:
        return cls(dt.datetime.fromisoformat(data["at"]), data["error_class"], data["message"])


@dataclass(frozen=True, slots=True)
class Failure:
    """What the worker knows when a message fails for good."""

    envelope: Envelope | None
    raw_body: bytes
    target: str
    error_class: str
    message: str
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True)
class FailedMessage:
    id: int
    message_id: str
    receipt_id: str
    source: str
    target: str
    type: str
    state: str
    error_class: str
    error_message: str
    group_id: str
    attempts: tuple[Attempt, ...]
    replay_count: int
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class FailedGroup:
    group_id: str
    target: str
    error_class: str
    example: str
    count: int
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime


@dataclass(frozen=True)
class Filter:
    """What operators narrow the store down by; `system` matches source or target."""

    system: str | None = None
    target: str | None = None
    type: str | None = None
    error_class: str | None = None
    group_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    states: tuple[str, ...] = (FailedState.FAILED,)

    def clause(self):  # type: ignore[no-untyped-def]
        c = failed_messages.c
        # every state named is no condition: left out, a page reads the entries in id order and stops
        parts = [] if set(self.states) >= set(FailedState) else [c.state.in_(self.states)]
        if self.system:
            parts.append((c.source == self.system) | (c.target == self.system))
        for column, value in ((c.target, self.target), (c.type, self.type), (c.error_class, self.error_class)):
            if value:
                parts.append(column == value)
        if self.group_id:
            parts.append(c.group_id == self.group_id)
        if self.since:
            parts.append(c.last_failed_at >= self.since)
        if self.until:
            parts.append(c.last_failed_at < self.until)
        return and_(true(), *parts)


class FailedStore:
    def __init__(self, db: Database, status: StatusStore) -> None:
        """`status`: the records' status, which a failure and a replay change in the same transaction."""
        db.create(failed_messages)
        self.db = db
        self.engine = db.engine
        self.status = status

    # -- the worker's side ------------------------------------------------------------------------

    def put(self, failures: Sequence[Failure], now: dt.datetime) -> list[int]:
        """Store failures and mark their records failed, in one transaction. A message that fails
        again after a replay keeps its row: state back to failed, history appended. Returns each
        failure's entry id, in order: what an operator gives `hub failed show`."""
        with self.engine.begin() as conn:
            return [self._put_one(conn, failure, now) for failure in failures]

    def _put_one(self, conn, failure: Failure, now: dt.datetime) -> int:  # type: ignore[no-untyped-def]
        sealer = self.db.sealer
        envelope = failure.envelope
        message_id = str(envelope.message_id) if envelope else hashlib.sha256(failure.raw_body).hexdigest()[:32]
        attempts = [{**j, "message": self.db.scrub(j["message"])} for j in (a.to_json() for a in failure.attempts)]
        existing = conn.execute(
            select(failed_messages.c.id, failed_messages.c.attempts).where(failed_messages.c.message_id == message_id)
        ).first()
        reason = self.db.reason(failure.message)
        common = {
            "state": FailedState.FAILED,
            "error_class": failure.error_class,
            "error_message": reason,
            "group_id": group_of(failure.target, failure.error_class, reason),
            "last_failed_at": now,
            "updated_at": now,
        }
        if existing is not None:
            entry = int(existing.id)
            history = json.loads(existing.attempts) + attempts
            conn.execute(
                update(failed_messages)
                .where(failed_messages.c.id == existing.id)
                .values(**common, attempts=json.dumps(history[-50:]))
            )
        else:
            original = self.status.source_xml(message_id, within=conn) if envelope is not None else None
            source_xml = sealer.seal(original) if original else None
            entry = conn.execute(
                failed_messages.insert().values(
                    **common,
                    message_id=message_id,
                    receipt_id=str(envelope.correlation_id) if envelope else "",
                    source=envelope.source if envelope else "unknown",
                    target=failure.target,
                    type=envelope.type if envelope else "unknown",
                    attempts=json.dumps(attempts),
                    replay_count=0,
                    envelope=sealer.seal(envelope.to_json() if envelope else failure.raw_body),
                    source_xml=source_xml,
                    first_failed_at=now,
                )
            ).inserted_primary_key[0]
        if envelope is not None:
            self.status.mark_failed([(message_id, failure.error_class, reason)], now, within=conn)
        return entry

    def resolve(self, message_ids: Iterable[str], now: dt.datetime) -> None:
        """Replayed messages that were delivered leave the operators' view."""
        ids, c = list(message_ids), failed_messages.c
        if ids:
            with self.engine.begin() as conn:
                conn.execute(
                    update(failed_messages)
                    .where(c.message_id.in_(ids), self.db.not_searched(c.state) == FailedState.REPLAYED)
                    .values(state=FailedState.RESOLVED, updated_at=now)
                )

    # -- the operators' side -------------------------------------------------------------------

    def groups(self, where: Filter) -> list[FailedGroup]:
        c = failed_messages.c
        query = (
            select(
                c.group_id,
                c.target,
                c.error_class,
                func.max(c.error_message).label("example"),
                func.count().label("count"),
                func.min(c.first_failed_at).label("first"),
                func.max(c.last_failed_at).label("last"),
            )
            .where(where.clause())
            .group_by(c.group_id, c.target, c.error_class)
            .order_by(func.count().desc())
        )
        with self.engine.connect() as conn:
            return [
                FailedGroup(r.group_id, r.target, r.error_class, r.example, r.count, _aware(r.first), _aware(r.last))
                for r in conn.execute(query)
            ]

    def find(self, where: Filter, *, limit: int = 1000, after: int | None = None) -> list[FailedMessage]:
        """Entries in id order; `after` pages by key (the entries past that id): an index on what the
        filter names (whose rows SQLite keeps in id order too) yields the page without reading or
        sorting the rest, where an offset would read every entry before it."""
        clause = where.clause() if after is None else and_(where.clause(), failed_messages.c.id > after)
        query = select(failed_messages).where(clause).order_by(failed_messages.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query)]

    def entry_for(self, message_id: str) -> FailedMessage | None:
        """The store's entry for a record's message id, whatever its state."""
        with self.engine.connect() as conn:
            row = conn.execute(select(failed_messages).where(failed_messages.c.message_id == message_id)).first()
        return self._row(row) if row is not None else None

    def get(self, ids: Iterable[int]) -> list[FailedMessage]:
        query = select(failed_messages).where(failed_messages.c.id.in_(list(ids))).order_by(failed_messages.c.id)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query)]

    def envelope(self, failed_id: int) -> tuple[Envelope | None, bytes]:
        """The stored envelope (None when it never was one, or was deleted: then no bytes either)."""
        with self.engine.connect() as conn:
            sealed = conn.execute(select(failed_messages.c.envelope).where(failed_messages.c.id == failed_id)).scalar()
        if not sealed:
            return None, b""
        raw = self.db.sealer.open(sealed)
        try:
            return Envelope.from_json(raw), raw
        except ValueError:
            return None, raw

    def source_xml(self, failed_id: int) -> bytes | None:
        with self.engine.connect() as conn:
            sealed = conn.execute(
                select(failed_messages.c.source_xml).where(failed_messages.c.id == failed_id)
            ).scalar()
        return self.db.sealer.open(sealed) if sealed else None

    def forget_payloads(self, before: dt.datetime) -> int:
        """Delete the envelope and original XML of entries untouched since `before`; the entry, its
        reason and history stay for the record. Returns how many lost their payload."""
        c = failed_messages.c
        with self.engine.begin() as conn:
            return conn.execute(
                update(failed_messages)
                .where(c.updated_at < before, func.length(c.envelope) > 0)
                .values(envelope=b"", source_xml=None)
            ).rowcount

    def replace_envelope(self, failed_id: int, envelope: Envelope, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(failed_messages)
                .where(failed_messages.c.id == failed_id)
                .values(envelope=self.db.sealer.seal(envelope.to_json()), updated_at=now)
            )

    def mark_replayed(self, ids: Sequence[int], now: dt.datetime) -> None:
        """After the broker confirmed the republished messages: out of the failed list, records accepted again."""
        with self.engine.begin() as conn:
            message_ids = [
                r.message_id
                for r in conn.execute(select(failed_messages.c.message_id).where(failed_messages.c.id.in_(ids)))
            ]
            conn.execute(
                update(failed_messages)
                .where(failed_messages.c.id.in_(ids))
                .values(state=FailedState.REPLAYED, replay_count=failed_messages.c.replay_count + 1, updated_at=now)
            )
            self.status.mark_accepted_again(message_ids, now, within=conn)

    def mark_discarded(self, ids: Sequence[int], now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(failed_messages)
                .where(failed_messages.c.id.in_(ids))
                .values(state=FailedState.DISCARDED, updated_at=now)
            )

    def waiting_counts(self) -> dict[tuple[str, str], int]:
        """Messages waiting for an operator, by (target, error class)."""
        c = failed_messages.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.target, c.error_class, func.count())
                .where(c.state == FailedState.FAILED)
                .group_by(c.target, c.error_class)
            )
            return {(target, error_class): count for target, error_class, count in rows}

    def new_since(self, since: dt.datetime) -> dict[str, int]:
        """Entries that failed for the first time since `since` and still wait, by target: how much
        the store grew, the figure its alert watches."""
        c = failed_messages.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.target, func.count())
                .where(c.state == FailedState.FAILED, c.last_failed_at >= since, c.first_failed_at >= since)
                .group_by(c.target)
            )
            return {target: count for target, count in rows}

    def rotate_keys(self) -> int:
        """Re-seal every stored value with the newest key; returns how many values were re-sealed."""
        sealer = self.db.sealer
        done = 0
        with self.engine.begin() as conn:
            c = failed_messages.c
            for row in conn.execute(select(c.id, c.envelope, c.source_xml)):
                values = {
                    name: sealer.rotate(row[i + 1]) for i, name in enumerate(("envelope", "source_xml")) if row[i + 1]
                }
                if values:
                    conn.execute(update(failed_messages).where(c.id == row.id).values(**values))
                    done += len(values)
            done += self.status.rotate_keys(conn)  # the requests they came in, in the same transaction
        return done

    @staticmethod
    def _row(r) -> FailedMessage:  # type: ignore[no-untyped-def]
        return FailedMessage(
            id=r.id,
            message_id=r.message_id,
            receipt_id=r.receipt_id,
            source=r.source,
            target=r.target,
            type=r.type,
            state=r.state,
            error_class=r.error_class,
            error_message=r.error_message,
            group_id=r.group_id,
            attempts=tuple(Attempt.from_json(a) for a in json.loads(r.attempts)),
            replay_count=r.replay_count,
            first_failed_at=_aware(r.first_failed_at),
            last_failed_at=_aware(r.last_failed_at),
            updated_at=_aware(r.updated_at),
        )
