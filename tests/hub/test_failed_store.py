"""The failed-message store and the audit trail on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

from hub.envelope import Envelope
from hub.store.audit import GENESIS, AuditLog, _digest, audit_log
from hub.store.failed import Attempt, FailedStore, Failure, Filter, group_of
from hub.store.status import RecordRow, StatusStore
from tests.hub.test_worker import factory

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def envelope(source: str = "sopa") -> Envelope:
    record = factory(random.randrange(1000)).benefit()
    return Envelope.of(
        record, source=source, target="spolis", user_id="u.1", correlation_id=uuid.uuid4(), created_at=NOW
    )


def failure(env: Envelope, message: str, error_class: str = "target_rejected") -> Failure:
    return Failure(env, env.to_json(), "spolis", error_class, message, (Attempt(NOW, error_class, message),))


def test_failures_are_grouped_filtered_and_sealed(database):
    status, failed = StatusStore(database), FailedStore(database)
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
    assert failed.count_by_error_class() == {"target_rejected": 2, "target_unavailable": 1}


def test_a_message_failing_again_after_replay_keeps_one_row_and_its_history(database):
    failed = FailedStore(database)
    e = envelope()
    failed.put([failure(e, "first")], NOW)
    (row,) = failed.find(Filter())
    failed.mark_replayed([row.id], NOW)
    assert not failed.find(Filter())
    failed.put([failure(e, "second")], NOW + dt.timedelta(minutes=5))
    (again,) = failed.find(Filter())
    assert again.id == row.id and again.replay_count == 1
    assert [a.message for a in again.attempts] == ["first", "second"]


def test_the_audit_chain_detects_a_changed_entry(database):
    audit = AuditLog(database)
    for action in ("replay", "discard", "edit"):
        audit.record(operator="ops", action=action, subject="1", reason="why", details={"ids": [1]})
    assert audit.verify() == (True, None)
    with database.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.action == "discard").values(reason="changed later"))
    whole, broken = audit.verify()
    assert not whole and broken == 2


def test_appends_from_many_threads_of_one_process_all_land_on_one_chain(database):
    """Query answers are audited from a thread pool: two appends reading the same head would fork
    the chain (or, on SQLite, fail on a stale snapshot)."""
    audit = AuditLog(database)

    def append(n: int) -> None:
        audit.record(operator="ops", action="query", subject=f"s{n}", reason="why", details={"n": n})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(80)))
    assert audit.verify() == (True, None)
    assert len(audit.entries(limit=100)) == 80


def test_a_rewritten_or_cut_chain_is_caught_by_an_anchor_logged_before(database):
    """Whoever can write the database can recompute every hash after a change, or delete the newest
    entries; a head the hub logged earlier (kept outside the database) still tells."""
    audit = AuditLog(database)
    for n in range(4):
        audit.record(operator="ops", action="query", subject=f"s{n}", reason="why", details={})
    anchor = audit.head()
    assert anchor is not None and audit.verify({anchor[0]: anchor[1]}) == (True, None)
    with database.engine.begin() as conn:  # rewrite entry 2 and recompute the chain from there on
        rows = conn.execute(audit_log.select().order_by(audit_log.c.id)).all()
        prev = GENESIS
        for r in rows:
            reason = "nothing to see" if r.id == 2 else r.reason
            at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
            digest = _digest(prev, at, r.operator, r.action, r.subject, reason, r.details)
            conn.execute(
                audit_log.update().where(audit_log.c.id == r.id).values(reason=reason, prev_hash=prev, hash=digest)
            )
            prev = digest
    assert audit.verify() == (True, None)  # the chain alone cannot tell
    assert audit.verify({anchor[0]: anchor[1]}) == (False, anchor[0])
    with database.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == anchor[0]))
    assert audit.verify({anchor[0]: anchor[1]}) == (False, anchor[0])
