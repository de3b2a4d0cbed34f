"""The failed-message store on SQLite and PostgreSQL (the audit trail: test_audit.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from cryptography.fernet import Fernet

from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.failed import FailedState, FailedStore, Filter, group_of
from hub.store.status import RecordRow, StatusStore
from tests.helpers import NOW, envelope, failure, sqlite_plan


def test_failures_are_grouped_filtered_and_sealed(database):
    status = StatusStore(database)
    failed = FailedStore(database, status)
    envelopes = [envelope("sopa"), envelope("sopa"), envelope("gvs")]
    for e in envelopes:
        status.add_pending(
            str(e.correlation_id),
            e.source,
            [RecordRow(str(e.message_id), 1, "R", "spolis", e.type, "x")],
            NOW,
            b"<r><x/></r>",
        )
    failed.put(
        [
            failure(envelopes[0], "NEZINAMS_SNIEDZEJS: provider S77777 is not in the register"),
            failure(envelopes[1], "NEZINAMS_SNIEDZEJS: provider S12345 is not in the register"),
            failure(envelopes[2], "gave up after 11 attempts: spolis unreachable", "target_unavailable"),
        ],
        NOW,
    )
    groups = failed.groups(Filter())
    assert [(g.count, g.error_class) for g in groups] == [(2, "target_rejected"), (1, "target_unavailable")]
    assert groups[0].group_id == group_of(
        "spolis", "target_rejected", "NEZINAMS_SNIEDZEJS: provider S1 is not in the register"
    )
    assert len(failed.find(Filter(system="gvs"))) == 1
    assert len(failed.find(Filter(error_class="target_rejected", since=NOW, until=NOW + dt.timedelta(1)))) == 2
    assert not failed.find(Filter(since=NOW + dt.timedelta(1)))
    first = failed.find(Filter(system="sopa"))[0]
    assert failed.envelope(first.id)[0] == envelopes[0]
    assert failed.source_xml(first.id) == b"<x/>"
    assert status.message_status(str(envelopes[0].message_id)) is None  # no receipt was given in this test
    assert failed.waiting_counts() == {("spolis", "target_rejected"): 2, ("spolis", "target_unavailable"): 1}


def test_a_message_failing_again_after_replay_keeps_one_row_and_its_history(database):
    failed = FailedStore(database, StatusStore(database))
    e = envelope()
    failed.put([failure(e, "first")], NOW)
    (row,) = failed.find(Filter())
    failed.mark_replayed([row.id], NOW)
    assert not failed.find(Filter())
    failed.put([failure(e, "second")], NOW + dt.timedelta(minutes=5))
    (again,) = failed.find(Filter())
    assert again.id == row.id and again.replay_count == 1
    assert [a.message for a in again.attempts] == ["first", "second"]


def test_a_delivery_resolves_only_the_replayed_entries_it_names(database):
    status = StatusStore(database)
    failed = FailedStore(database, status)
    envelopes = [envelope() for _ in range(3)]
    for e in envelopes:
        status.add_pending(
            str(e.correlation_id), e.source, [RecordRow(str(e.message_id), 1, "R", "spolis", e.type)], NOW
        )
    failed.put([failure(e, "NEZINAMS_SNIEDZEJS: provider S1 is not in the register") for e in envelopes], NOW)
    entries = {f.message_id: f for f in failed.find(Filter())}
    failed.mark_replayed([entries[str(e.message_id)].id for e in envelopes[:2]], NOW)
    failed.resolve([str(envelopes[0].message_id), str(envelopes[2].message_id), str(uuid.uuid4())], NOW)
    states = {f.message_id: f.state for f in failed.find(Filter(states=tuple(FailedState)))}
    assert [states[str(e.message_id)] for e in envelopes] == ["resolved", "replayed", "failed"]


def test_a_delivery_looks_its_replayed_entries_up_by_their_key(tmp_path):
    """Searched by state instead (which SQLite chooses from three ids on), every replayed entry is read
    for every batch delivered."""
    database = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", Sealer([Fernet.generate_key()]))
    failed = FailedStore(database, StatusStore(database))
    plan = sqlite_plan(database.engine, lambda: failed.resolve([str(uuid.uuid4()) for _ in range(250)], NOW))
    assert plan == ["SEARCH failed_messages USING INDEX sqlite_autoindex_failed_messages_1 (message_id=?)"]
