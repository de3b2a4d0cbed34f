"""Personal data where the hub keeps it: free text the stores hold in clear carries pseudonyms, never
person codes."""

from __future__ import annotations

from hub.pseudonym import Pseudonymizer
from hub.store.audit import AuditLog
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.failed import FailedStore, Filter
from hub.store.message_log import MessageLog
from hub.store.status import RecordRow, StatusStore
from tests.hub.test_failed_store import NOW, envelope, failure

CODE = "010180-10006"


def test_person_codes_in_reasons_notes_and_events_are_stored_as_pseudonyms(tmp_path):
    pseudonymize = Pseudonymizer(b"k" * 32)
    from cryptography.fernet import Fernet

    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", Sealer([Fernet.generate_key()]), pseudonymize.scrub)
    status, failed, log, audit = StatusStore(db), FailedStore(db), MessageLog(db), AuditLog(db)
    env = envelope()
    status.add_pending(
        str(env.correlation_id), "sopa", [RecordRow(str(env.message_id), 1, "R", "spolis", env.type, b"<x/>")], NOW
    )
    failed.put([failure(env, f"PERSONA_NEZINAMA: {CODE} is not in the register")], NOW)
    status.mark_failed([(str(env.message_id), "target_rejected", f"again {CODE.replace('-', '')}")], NOW)
    log.record([(str(env.message_id), "failed", {"reason": f"person {CODE}"})])
    audit.record(operator="ops.ilze", action="discard", subject="1", reason=f"entered twice for {CODE}", details={})
    raw = (tmp_path / "hub.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("hub.sqlite3-*"))
    assert CODE.encode() not in raw and CODE.replace("-", "").encode() not in raw
    (stored,) = failed.find(Filter())
    assert pseudonymize(CODE) in stored.error_message and pseudonymize(CODE) in stored.attempts[0].message
    assert audit.verify() == (True, None)
