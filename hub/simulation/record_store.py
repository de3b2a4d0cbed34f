"""What a simulated target system keeps of the records the hub delivers to it."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path


class RecordStore:
    """SQLite: each record once per message id (the idempotency key); duplicates counted, never
    stored twice; per source record, the latest decision is current."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (message_id TEXT PRIMARY KEY, source TEXT, source_record_id TEXT,"
            " kind TEXT, person_code TEXT, decided_at TEXT, xml BLOB, received_at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS current (source TEXT, source_record_id TEXT, message_id TEXT,"
            " decided_at TEXT, PRIMARY KEY (source, source_record_id))"
        )
        self._lock = threading.Lock()

    def store(self, rows: list[tuple[str, str, str, str, str, str, bytes]]) -> list[bool]:
        """True for each row stored now, False for one already held."""
        fresh: list[bool] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stale = 0
                for row in rows:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO records (message_id, source, source_record_id, kind, person_code,"
                        " decided_at, xml) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    fresh.append(cursor.rowcount == 1)
                    if cursor.rowcount == 1:
                        stale += self._keep_latest(row[1], row[2], row[0], row[5])
                self._count("duplicates", fresh.count(False))
                self._count("stale_versions", stale)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return fresh

    def _keep_latest(self, source: str, record_id: str, message_id: str, decided_at: str) -> int:
        """Make this version current unless a later decision is; 1 when it arrived stale."""
        when = dt.datetime.fromisoformat(decided_at).astimezone(dt.UTC).isoformat()
        cursor = self._db.execute(
            "INSERT INTO current (source, source_record_id, message_id, decided_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(source, source_record_id) DO UPDATE SET message_id = excluded.message_id,"
            " decided_at = excluded.decided_at WHERE excluded.decided_at > current.decided_at",
            (source, record_id, message_id, when),
        )
        return 1 if cursor.rowcount == 0 else 0

    def current(self, source: str, record_id: str) -> str | None:
        """The message id of the version SPOLIS holds as current for a source record."""
        with self._lock:
            row = self._db.execute(
                "SELECT message_id FROM current WHERE source = ? AND source_record_id = ?", (source, record_id)
            ).fetchone()
        return row[0] if row else None

    def _count(self, name: str, by: int) -> None:
        if by:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    def count(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._count(name, by)

    def stats(self) -> dict[str, int]:
        with self._lock:
            records = self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        names = ("duplicates", "rejected", "calls", "faults_injected", "timeouts_injected", "stale_versions")
        return {"records": records, **{name: counters.get(name, 0) for name in names}}

    def message_ids(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT message_id FROM records")]

    def close(self) -> None:
        self._db.close()
