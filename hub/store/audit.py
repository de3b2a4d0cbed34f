"""The audit trail: who asked what about whom (per-person queries, the person as a pseudonym) and
which operator did what to which messages, when and why.

Each entry's hash is an HMAC-SHA256, under the audit key, of the entry before's hash and the entry's
fields. The key is never in the database, so whoever can write the database but lacks the key cannot
change, remove, reorder or add an entry without breaking the chain that `AuditLog.verify` walks;
what they could still do is cut its tail. So the hub writes signed checkpoints (an entry, its hash,
how many entries there were up to it, when; MAC'd under the same key) to a file outside the database
and to its log, a second witness kept elsewhere: after every `checkpoint_every` entries a process
appended, every minute from the gateway when the head moved, and when the hub stops. `verify` holds
the chain against every checkpoint: only the entries after the newest one rest on the chain alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, func, or_, select

from hub.files import append_line
from hub.store.db import Database, metadata

log = logging.getLogger(__name__)

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
_HEAD_ENTRY = select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
_APPEND = audit_log.insert()  # values bound per call, so the compiled statement is cached
_VERIFY_BATCH = 2000  # rows fetched at a time: the whole trail never sits in memory


@dataclass(frozen=True)
class Note:
    """An entry to append: who did what to what, why, and the particulars."""

    operator: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    operator: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """The chain's state at `entry`, signed: `entries` counts the entries up to it, `at` is when."""

    entry: int
    hash: str
    entries: int
    at: str
    mac: str

    def signed_fields(self) -> dict[str, Any]:
        return {"entry": self.entry, "hash": self.hash, "entries": self.entries, "at": self.at}

    def line(self) -> str:
        return json.dumps({**self.signed_fields(), "mac": self.mac})

    def when(self) -> str:
        return dt.datetime.fromisoformat(self.at).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Verdict:
    """What `verify` found. `latest` is the newest checkpoint that held; `after_latest` entries come
    after it and rest on the keyed chain alone. `forged` names checkpoint lines whose MAC fails."""

    whole: bool
    entries: int
    broken_at: int | None = None
    why: str | None = None
    checkpoints: int = 0
    anchors: int = 0
    latest: Checkpoint | None = None
    after_latest: int = 0
    forged: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Witness:
    """A checkpoint or an anchor: what the chain must hold at one entry."""

    entry: int
    hash: str
    entries: int | None
    name: str
    checkpoint: Checkpoint | None = None


def _digest(
    key: bytes,
    prev_hash: str,
    at: dt.datetime,
    operator: str,
    action: str,
    subject: str,
    reason: str,
    details: str,
) -> str:
    stamp = at.astimezone(dt.UTC).isoformat()
    material = json.dumps([prev_hash, stamp, operator, action, subject, reason, details], ensure_ascii=False)
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()


def _checkpoint_mac(key: bytes, fields: Mapping[str, Any]) -> str:
    # a JSON object, where an entry's material is a JSON array: the two MACs can never be swapped
    material = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


class AuditLog:
    def __init__(
        self, db: Database, key: bytes, *, checkpoint_file: Path | None = None, checkpoint_every: int = 100
    ) -> None:
        """`key` keys the chain and its checkpoints; `checkpoint_file` is where checkpoints go besides
        the log (none: the log only)."""
        if len(key) < 16:
            raise ValueError("the audit key must have at least 16 bytes")
        db.create(audit_log)
        self.engine = db.engine
        self.scrub = db.scrub
        self.checkpoint_file = checkpoint_file
        self.checkpoint_every = checkpoint_every
        self._key = key
        # one append at a time in this process: two that read the same head would fork the chain
        # (other processes are kept out by the database: PostgreSQL's table lock, SQLite's writer lock)
        self._appending = threading.Lock()
        self._checkpointing = threading.Lock()
        self._since_checkpoint = 0
        self._checkpointed: int | None = None  # the entry of this process's latest checkpoint

    def record(self, *, operator: str, action: str, subject: str, reason: str, details: dict[str, Any]) -> None:
        self.record_many([Note(operator, action, subject, reason, details)])

    def record_many(self, notes: Sequence[Note]) -> None:
        """Append the notes in their order, in one transaction: all of them or, raising, none."""
        if not notes:
            return
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        texts = [
            (self.scrub(json.dumps(n.details, sort_keys=True, ensure_ascii=False, default=str)), self.scrub(n.reason))
            for n in notes
        ]
        with self._appending:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                digest = conn.execute(_HEAD).scalar() or GENESIS
                for note, (text, reason) in zip(notes, texts, strict=True):
                    prev = digest
                    digest = _digest(self._key, prev, at, note.operator, note.action, note.subject, reason, text)
                    values = {"at": at, "operator": note.operator, "action": note.action, "subject": note.subject}
                    values |= {"reason": reason, "details": text, "prev_hash": prev, "hash": digest}
                    entry = conn.execute(_APPEND, values).inserted_primary_key[0]
            self._after_append(entry, digest, len(notes))

    def _after_append(self, entry: int, digest: str, appended: int) -> None:
        """A checkpoint once this process appended `checkpoint_every` entries since its last one;
        written after the commit, so it never names an entry that is not there."""
        with self._checkpointing:
            self._since_checkpoint += appended
            if self._since_checkpoint < self.checkpoint_every:
                return
        try:
            self._write_checkpoint(entry, digest)
        except Exception as exc:
            log.warning("audit checkpoint not written", extra={"entry": entry, "error": str(exc)[:200]})

    def checkpoint_if_moved(self) -> Checkpoint | None:
        """A checkpoint of the head when it moved since this process's last one (another process's
        entries move it too). Never raises: a missed checkpoint is retried by the next call."""
        try:
            head = self.head()
            if head is None or head[0] == self._checkpointed:
                return None
            return self._write_checkpoint(*head)
        except Exception as exc:
            log.warning("audit checkpoint not written", extra={"error": str(exc)[:200]})
            return None

    def _write_checkpoint(self, entry: int, digest: str) -> Checkpoint:
        with self.engine.connect() as conn:  # the ids only grow (appends are serialised), so this count holds
            entries = conn.execute(select(func.count()).where(audit_log.c.id <= entry)).scalar_one()
        at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        fields = {"entry": entry, "hash": digest, "entries": entries, "at": at}
        checkpoint = Checkpoint(entry, digest, entries, at, _checkpoint_mac(self._key, fields))
        with self._checkpointing:
            log.info("audit checkpoint", extra={**checkpoint.signed_fields(), "mac": checkpoint.mac})
            if self.checkpoint_file is not None:
                append_line(self.checkpoint_file, checkpoint.line())
            self._checkpointed = max(entry, self._checkpointed or 0)
            self._since_checkpoint = 0
        return checkpoint

    def entries(self, limit: int = 100, *, search: str | None = None) -> list[AuditEntry]:
        """The newest entries first; `search` keeps those whose operator, action or subject holds it."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if search:
            text, columns = search.lower(), (audit_log.c.operator, audit_log.c.action, audit_log.c.subject)
            query = query.where(or_(*(func.lower(column).contains(text, autoescape=True) for column in columns)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(r.id, _aware(r.at), r.operator, r.action, r.subject, r.reason, json.loads(r.details))
            for r in rows
        ]

    def head(self) -> tuple[int, str] | None:
        """The last entry's id and hash."""
        with self.engine.connect() as conn:
            row = conn.execute(_HEAD_ENTRY).first()
        return (row.id, row.hash) if row else None

    def read_checkpoints(self, path: Path) -> tuple[list[Checkpoint], list[str]]:
        """The checkpoints in `path` whose MAC holds, and what is wrong with the other lines. A missing
        file holds none (a hub that has not written one yet)."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], []
        held: list[Checkpoint] = []
        forged: list[str] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            checkpoint = _parse_checkpoint(line)
            if checkpoint is None:
                forged.append(f"{path} line {number} is not a checkpoint")
            elif not hmac.compare_digest(checkpoint.mac, _checkpoint_mac(self._key, checkpoint.signed_fields())):
                forged.append(f"{path} line {number} is forged: its mac does not verify under the audit key")
            else:
                held.append(checkpoint)
        return held, forged

    def verify(
        self, anchors: Mapping[int, str] | None = None, checkpoint_files: Sequence[Path] | None = None
    ) -> Verdict:
        """Walks the keyed chain and holds it against every checkpoint in `checkpoint_files` (default:
        this log's checkpoint file) and every anchor (entry id -> its hash, kept outside the database)."""
        files = checkpoint_files if checkpoint_files is not None else [p for p in [self.checkpoint_file] if p]
        checkpoints: list[Checkpoint] = []
        forged: list[str] = []
        for path in files:
            held, bad = self.read_checkpoints(path)
            checkpoints += held
            forged += bad
        witnesses = [*map(_checkpoint_witness, checkpoints), *map(_anchor_witness, (anchors or {}).items())]
        verdict = self._walk(witnesses)
        latest = max(checkpoints, key=lambda c: (c.entry, c.at), default=None)
        if verdict.whole and latest is not None:
            verdict = dataclasses.replace(verdict, latest=latest, after_latest=verdict.entries - latest.entries)
        return dataclasses.replace(
            verdict,
            whole=verdict.whole and not forged,
            checkpoints=len(checkpoints),
            anchors=len(anchors or {}),
            forged=tuple(forged),
        )

    def _walk(self, witnesses: Iterable[_Witness]) -> Verdict:
        pending: dict[int, list[_Witness]] = {}
        for witness in witnesses:
            pending.setdefault(witness.entry, []).append(witness)
        prev, count = GENESIS, 0
        rows = select(audit_log).order_by(audit_log.c.id)
        with self.engine.connect() as conn:
            for r in conn.execution_options(yield_per=_VERIFY_BATCH).execute(rows):
                count += 1
                why = self._fault(r, prev) or _disagreement(pending.pop(r.id, ()), r.hash, count)
                if why:
                    return Verdict(False, count - 1, r.id, why)
                prev = r.hash
        if pending:
            entry = min(pending)
            why = f"{pending[entry][0].name} names it, but it is no longer there (the tail was cut, or renumbered)"
            return Verdict(False, count, entry, why)
        return Verdict(True, count)

    def _fault(self, r: Any, prev: str) -> str | None:
        if r.prev_hash != prev:
            return "it does not follow the entry before it (an entry was removed, added or moved)"
        expected = _digest(self._key, prev, _aware(r.at), r.operator, r.action, r.subject, r.reason, r.details)
        if not hmac.compare_digest(r.hash, expected):
            return "its hash does not match its fields under the audit key (changed, or written without the key)"
        return None


def _disagreement(witnesses: Iterable[_Witness], digest: str, count: int) -> str | None:
    for witness in witnesses:
        if witness.hash != digest:
            return f"{witness.name} holds another hash for it"
        if witness.entries is not None and witness.entries != count:
            return f"{witness.name} counted {witness.entries:,} entries up to it; the chain has {count:,}"
    return None


def _checkpoint_witness(checkpoint: Checkpoint) -> _Witness:
    name = f"the checkpoint of {checkpoint.when()}"
    return _Witness(checkpoint.entry, checkpoint.hash, checkpoint.entries, name, checkpoint)


def _anchor_witness(anchor: tuple[int, str]) -> _Witness:
    entry, digest = anchor
    return _Witness(entry, digest, None, f"the anchor {entry}:{digest[:12]}…")


def _parse_checkpoint(line: str) -> Checkpoint | None:
    try:
        data = json.loads(line)
        checkpoint = Checkpoint(data["entry"], data["hash"], data["entries"], data["at"], data["mac"])
        dt.datetime.fromisoformat(checkpoint.at)
    except (ValueError, KeyError, TypeError):
        return None
    numbers_right = all(type(n) is int for n in (checkpoint.entry, checkpoint.entries))
    texts_right = all(isinstance(t, str) for t in (checkpoint.hash, checkpoint.mac))
    return checkpoint if numbers_right and texts_right else None
