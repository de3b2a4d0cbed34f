"""The console's list of failed messages pages by key through 100,000 entries: each page is read
through an index in id order, never by scanning or sorting the store (checked on SQLite's plan of the
very statement the store sent, not by timing it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import event

from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.failed import FailedState, FailedStore, Filter
from hub.store.status import StatusStore

ENTRIES = 100_000
TARGETS = ("spolis", "vsaa", "burvis", "lietis")
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
COLUMNS = (
    "message_id, receipt_id, source, target, type, state, error_class, error_message, group_id, attempts, "
    "replay_count, envelope, first_failed_at, last_failed_at, updated_at"
)


def seeded(folder: Path) -> tuple[Database, FailedStore]:
    """A store of ENTRIES entries, a quarter of them resolved, written in one executemany."""
    db = Database(f"sqlite:///{folder / 'hub.sqlite3'}", Sealer([Fernet.generate_key()]))
    store = FailedStore(db, StatusStore(db))
    rows = []
    for i in range(ENTRIES):
        at = (START + dt.timedelta(seconds=i)).isoformat(sep=" ")
        state = FailedState.RESOLVED if i % 4 == 3 else FailedState.FAILED
        target = TARGETS[i % len(TARGETS)]
        rows.append(
            (f"m-{i:08d}", "r", "sopa", target, "social_service", state, "target_rejected", "no such", f"g{i % 3}")
        )
        rows[-1] += ("[]", 0, b"sealed", at, at, at)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO failed_messages ({COLUMNS}) VALUES ({', '.join('?' * 15)})", rows)
    return db, store


def plan_of(db: Database, read) -> list[str]:  # type: ignore[no-untyped-def]
    """SQLite's plan of the one statement `read()` sends."""
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, many) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        read()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    ((statement, parameters),) = sent
    with db.engine.connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def test_pages_of_100000_entries_are_read_through_an_index_in_id_order(tmp_path):
    db, store = seeded(tmp_path)
    waiting = Filter()
    first = store.find(waiting, limit=50)
    assert [m.id for m in first] == [i + 1 for i in range(66) if i % 4 != 3][:50]
    last = store.find(waiting, limit=50, after=ENTRIES - 10)
    assert [m.id for m in last] == [i for i in range(ENTRIES - 9, ENTRIES + 1) if (i - 1) % 4 != 3]

    for where, after in [
        (waiting, None),
        (waiting, 90_000),
        (Filter(target="vsaa"), 50_000),
        (Filter(group_id="g1"), 70_000),
        (Filter(target="vsaa", type="social_service", error_class="target_rejected"), 10),
        (Filter(system="vsaa", since=START + dt.timedelta(hours=20)), 1000),
    ]:
        plan = plan_of(db, lambda where=where, after=after: store.find(where, limit=51, after=after))
        assert len(plan) == 1 and plan[0].startswith("SEARCH failed_messages USING INDEX"), (where, plan)
        if after:
            assert "rowid>?" in plan[0], plan  # the index holds each value's entries in id order: no offset read
    every_state = Filter(states=tuple(FailedState))
    assert plan_of(db, lambda: store.find(every_state, limit=51)) == ["SCAN failed_messages"], "id order, stops at 51"
    db.close()
