"""Receipts and record status on SQLite (the default) and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import pickle
import threading
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.failed import FailedStore
from hub.store.status import Receipt, RecordRow, StatusStore, message_status
from tests.helpers import sqlite_plan

SEALER = Sealer([Fernet.generate_key()])


@pytest.fixture
def store(database):
    return StatusStore(database)


def rows(n: int) -> list[RecordRow]:
    return [
        RecordRow(str(uuid.uuid4()), i, f"R-{i}", "spolis", "social_assistance.benefit.v1") for i in range(1, n + 1)
    ]


def test_a_receipt_is_only_known_once_given(store):
    receipt_id, now = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    records = rows(3)
    store.add_pending(receipt_id, "sopa", records, now)
    assert store.receipt_status(receipt_id) is None
    assert store.message_status(records[0].message_id) is None
    store.add_receipt(Receipt(receipt_id, "sopa", "Op", "d" * 64, 3, now, tuple(records)), "user.1")
    status = store.receipt_status(receipt_id)
    assert status.counts == {"accepted": 3, "delivered": 0, "failed": 0}
    found = store.find_receipt(receipt_id)
    assert found.records == tuple(records)
    assert abs((found.accepted_at - now).total_seconds()) < 1


def test_delivered_records_are_known_for_the_hubs_own_dedupe(store):
    receipt_id, now = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    records = rows(3)
    store.add_pending(receipt_id, "lietis", records, now)
    store.add_receipt(Receipt(receipt_id, "lietis", "Op", "d" * 64, 3, now, tuple(records)), "user.1")
    store.mark_delivered([records[0].message_id], now)
    assert store.delivered_among(r.message_id for r in records) == {records[0].message_id}
    status = store.receipt_status(receipt_id)
    assert status.counts == {"accepted": 2, "delivered": 1, "failed": 0}


def test_a_resend_keeps_existing_rows_and_an_unconfirmed_submission_is_forgotten(store):
    receipt_id, now = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    records = rows(2)
    store.add_pending(receipt_id, "gvs", records, now)
    store.mark_delivered([records[0].message_id], now)
    store.add_pending(receipt_id, "gvs", records, now)
    store.discard_pending(receipt_id, "holder", b"<fault/>")
    assert store.counts().get("delivered") == 1 and store.counts().get("accepted", 0) == 0


AWKWARD = [
    'quote " and \\ backslash',
    "Rīga, Ķekava: ā č ē ģ ī ķ ļ ņ š ū ž",
    "tab\tnew\nline",
    '{"json": [1]}',
    "🙂",
    "a'b",
]


def test_rows_of_a_load_keep_every_character_and_the_time_to_the_microsecond(store, database):
    """PostgreSQL takes a load's rows as one JSON parameter: no character may change on the way."""
    receipt_id, now = str(uuid.uuid4()), dt.datetime(2026, 12, 3, 8, 19, 29, 649987, tzinfo=dt.UTC)
    records = [
        RecordRow(str(uuid.uuid4()), i, text, "spolis", "social_assistance.benefit.v1", f"./r[{i}][@x='{text}']")
        for i, text in enumerate(AWKWARD, start=1)
    ]
    store.add_pending(receipt_id, "sopa", records[:3], now)
    store.add_pending(receipt_id, "sopa", records, now + dt.timedelta(seconds=5))  # a resend: what exists stays
    store.add_receipt(Receipt(receipt_id, "sopa", "Op", "d" * 64, len(records), now, tuple(records)), "user.1")
    assert store.find_receipt(receipt_id).records == tuple(records)
    traces = [store.record_trace(r.message_id) for r in records]
    assert [t.accepted_at for t in traces] == [now] * 3 + [now + dt.timedelta(seconds=5)] * 3
    with database.engine.connect() as conn:
        paths = dict(conn.execute(select(message_status.c.message_id, message_status.c.source_path)).all())
    assert [paths[r.message_id] for r in records] == [r.source_path for r in records]


def test_a_record_id_longer_than_its_column_is_refused_whole_on_postgresql_and_kept_on_sqlite(store, database):
    """PostgreSQL says the value is too long (it never truncates) and stages none of the load; SQLite
    keeps text of any length."""
    receipt_id, now = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    records = [*rows(2), RecordRow(str(uuid.uuid4()), 3, "R" * 201, "spolis", "social_assistance.benefit.v1")]
    if database.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="too long"):
            store.add_pending(receipt_id, "sopa", records, now)
        assert store.counts().get("accepted", 0) == 0
    else:
        store.add_pending(receipt_id, "sopa", records, now)
        assert store.record_trace(records[2].message_id).record_id == "R" * 201


def test_the_dedupe_looks_records_up_by_their_key_however_many_are_delivered(tmp_path):
    """Asked whether a batch's records are delivered, SQLite must look each up by its key: searched by
    state instead, every delivered record in the table is read for every batch."""
    store = StatusStore(Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", SEALER))
    plan = sqlite_plan(store.engine, lambda: store.delivered_among([str(uuid.uuid4()) for _ in range(250)]))
    searches = [step for step in plan if step.startswith("SEARCH message_status")]
    assert searches == ["SEARCH message_status USING INDEX sqlite_autoindex_message_status_1 (message_id=?)"]


def test_a_correction_is_told_by_looking_its_record_id_up_not_by_reading_every_row(tmp_path):
    """Every load of monthly reports asks how often its record ids were given a receipt: a scan would
    read the whole table, which holds every record the hub ever accepted until retention."""
    store = StatusStore(Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", SEALER))
    months = ["ATVK-1-2026-10", "ATVK-1-2026-11"]
    plan = sqlite_plan(
        store.engine, lambda: store.versions_given("lietis", "social_assistance.monthly_report.v1", months)
    )
    assert not [step for step in plan if step.startswith("SCAN message_status")], plan
    assert "SEARCH message_status USING INDEX message_status_by_record_id (record_id=?)" in plan


def test_an_index_added_since_a_store_was_made_is_built_as_the_hub_starts(database):
    StatusStore(database)
    with database.engine.begin() as conn:
        conn.execute(text("DROP INDEX message_status_by_record_id"))
    StatusStore(database)
    assert "message_status_by_record_id" in {i["name"] for i in inspect(database.engine).get_indexes("message_status")}


def test_a_row_crosses_processes_with_every_field():
    row = RecordRow(
        str(uuid.uuid4()), 3, "R-3", "spolis", "social_assistance.benefit.v1", "DatuPakete/Pabalsti/Pabalsts[3]"
    )
    again = pickle.loads(pickle.dumps(row))
    assert (again, again.source_path) == (row, row.source_path)


def test_processes_started_together_all_find_their_tables(database):
    """A deployment's hub processes start at once and race to create the tables: none may fail."""
    url = database.engine.url.render_as_string(hide_password=False)
    start, failures = threading.Barrier(4), []

    def open_stores() -> None:
        db = Database(url, SEALER)
        start.wait()
        try:
            StatusStore(db)
            FailedStore(db, StatusStore(db))
        except Exception as exc:
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=open_stores) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_record_two_workers_deliver_at_once_is_moved_to_delivered_by_one(store):
    receipt_id, now = str(uuid.uuid4()), dt.datetime.now(dt.UTC)
    records = rows(200)
    store.add_pending(receipt_id, "sopa", records, now)
    ids = [r.message_id for r in records]
    start, moved = threading.Barrier(2), []

    def deliver() -> None:
        start.wait()
        moved.append(store.mark_delivered(ids, now))

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert moved[0] | moved[1] == set(ids) and not moved[0] & moved[1]
    assert store.mark_delivered(ids, now) == set()
