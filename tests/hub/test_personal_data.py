"""Personal data where the hub keeps it: free text the stores hold in clear carries pseudonyms, never
person codes; payloads are sealed; after the retention period they are gone, and operators are told
why a message can no longer be replayed."""

from __future__ import annotations

import datetime as dt

from cryptography.fernet import Fernet
from sqlalchemy import update

from hub.pseudonym import Pseudonymizer
from hub.store.audit import AuditLog
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.failed import FailedStore, Filter, failed_messages
from hub.store.message_log import MessageLog
from hub.store.status import RecordRow, StatusStore, requests
from tests.helpers import NOW, envelope, factory, failure, submit, wait_for

CODE = "010180-10006"


def test_person_codes_in_reasons_notes_and_events_are_stored_as_pseudonyms(tmp_path):
    pseudonymize = Pseudonymizer(b"k" * 32)
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", Sealer([Fernet.generate_key()]), pseudonymize.scrub)
    status = StatusStore(db)
    failed, log, audit = FailedStore(db, status), MessageLog(db), AuditLog(db, b"a" * 32)
    env = envelope()
    status.add_pending(
        str(env.correlation_id),
        "sopa",
        [RecordRow(str(env.message_id), 1, "R", "spolis", env.type, "x")],
        NOW,
        b"<r><x/></r>",
    )
    failed.put([failure(env, f"PERSONA_NEZINAMA: {CODE} is not in the register")], NOW)
    status.mark_failed([(str(env.message_id), "target_rejected", f"again {CODE.replace('-', '')}")], NOW)
    log.record([(str(env.message_id), "failed", {"reason": f"person {CODE}"})])
    audit.record(operator="ops.ilze", action="discard", subject="1", reason=f"entered twice for {CODE}", details={})
    raw = (tmp_path / "hub.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("hub.sqlite3-*"))
    assert CODE.encode() not in raw and CODE.replace("-", "").encode() not in raw
    (stored,) = failed.find(Filter())
    assert pseudonymize(CODE) in stored.error_message and pseudonymize(CODE) in stored.attempts[0].message
    assert audit.verify().whole


def test_payloads_are_forgotten_after_the_retention_period(start_hub, spolis):
    hub = start_hub()
    spolis.knobs.fault_rate = 0.0
    f = factory(81)
    unknown = f.social_service().model_copy(update={"provider_register_no": "S66666"})
    ids = submit(hub, [f.benefit(), unknown])
    wait_for(lambda: hub.store.counts() == {"delivered": 1, "failed": 1}, timeout=30)
    assert hub.purge()["record_payloads"] == 0  # nothing is old yet
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=hub.settings.payload_retention_days + 1)
    with hub.db.engine.begin() as conn:
        conn.execute(update(requests).values(at=long_ago))
        conn.execute(update(failed_messages).values(updated_at=long_ago))
    removed = hub.purge()
    assert (removed["record_payloads"], removed["failed_payloads"]) == (1, 1)  # one request, one entry
    operators = hub.operators()
    (entry,) = operators.find(Filter())
    detail = operators.show(entry.id, operator="ops.ilze", where="test")
    assert detail.envelope is None and detail.source_xml is None and "retention" in detail.raw
    outcome = operators.replay([entry], operator="ops.ilze", reason="try")
    assert "retention" in outcome.skipped[entry.id] and not outcome.replayed
    assert all(hub.store.source_xml(m) is None for m in ids.values())
    assert hub.store.message_status(ids[unknown.record_id]).records[0].status == "failed"  # the record stays
