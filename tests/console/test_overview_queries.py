"""The overview's day per target is read from the status index alone, never from the records' rows:
a busy day holds hundreds of thousands (checked on SQLite's plan of the statement sent)."""

from __future__ import annotations

import datetime as dt

from cryptography.fernet import Fernet
from sqlalchemy import event

from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.status import StatusStore

TARGETS = ("burvis", "spolis")
STATES = ("delivered", "delivered", "failed", "accepted")
COLUMNS = "message_id, receipt_id, record_index, record_id, source, target, type, status, accepted_at, updated_at"


def test_a_day_per_target_is_counted_from_the_index_and_the_hour_apart(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", Sealer([Fernet.generate_key()]))
    status = StatusStore(db)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(2000):  # one every 30 s: the last 120 in the last hour, 2000 in the last 17 hours
        at = (now - dt.timedelta(seconds=30 * i + 1)).isoformat(sep=" ")
        rows.append((f"m-{i}", "r", i, f"r-{i}", "sopa", TARGETS[i % 2], "t", STATES[i % 4], at, at))
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO message_status ({COLUMNS}) VALUES ({', '.join('?' * 10)})", rows)
    sent: list[tuple[str, object]] = []
    event.listen(
        db.engine, "before_cursor_execute", lambda conn, cur, sql, params, ctx, many: sent.append((sql, params))
    )

    counts = status.target_counts([*TARGETS, "lietis"], now - dt.timedelta(days=1), now - dt.timedelta(hours=1))
    assert set(counts) == set(TARGETS)
    assert counts["burvis"].day == {"delivered": 500, "failed": 500} and sum(counts["burvis"].hour.values()) == 60
    assert counts["spolis"].day == {"delivered": 500, "accepted": 500}
    ((statement, parameters),) = sent
    with db.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert len(plan) == 1 and plan[0].startswith("SEARCH message_status USING COVERING INDEX"), plan

    flows = status.flow_counts(TARGETS, now - dt.timedelta(hours=1))
    assert flows == {
        ("sopa", "t", "burvis"): {"delivered": 30, "failed": 30},
        ("sopa", "t", "spolis"): {"delivered": 30, "accepted": 30},
    }
    db.close()
