"""The audit trail on SQLite and PostgreSQL: a chain keyed with a key the database does not hold, and
signed checkpoints kept outside it. Whoever can write the database rewrites, deletes, cuts, appends,
reorders and renumbers entries here with SQL, recomputing hashes the old unkeyed way or with a key of
their own; `verify` catches each."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from hub.keys import KeyMissing
from hub.runtime import build
from hub.settings import Settings, environment
from hub.store.audit import GENESIS, AuditLog, Note, _checkpoint_mac, _digest, audit_log
from hub.store.db import Database
from tests.helpers import hub_cli, wait_for

KEY = b"the-audit-key-of-this-test-0123456789"
WRONG_KEY = b"an-attackers-own-key-0123456789abcdef"
EVERY = 5  # a checkpoint after every 5 entries; 12 entries leave checkpoints at 5 and 10
Hasher = Callable[..., str]


def unkeyed(prev: str, at: dt.datetime, operator: str, action: str, subject: str, reason: str, details: str) -> str:
    """The chain's hash before it was keyed: what anyone can compute."""
    stamp = at.astimezone(dt.UTC).isoformat()
    material = json.dumps([prev, stamp, operator, action, subject, reason, details], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()


FORGERIES: dict[str, Hasher] = {"unkeyed": unkeyed, "wrong key": functools.partial(_digest, WRONG_KEY)}


@pytest.fixture(params=sorted(FORGERIES))
def forge(request) -> Hasher:
    return FORGERIES[request.param]


@pytest.fixture
def checkpoints(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "checkpoints.jsonl"


def trail(database: Database, checkpoints: Path | None, entries: int = 12, every: int = EVERY) -> AuditLog:
    audit = AuditLog(database, KEY, checkpoint_file=checkpoints, checkpoint_every=every)
    for n in range(entries):
        audit.record(operator="ops", action="query", subject=f"s{n}", reason="why", details={"n": n})
    return audit


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def rehash_from(conn: Connection, first: int, forge: Hasher) -> None:
    """Every entry from `first` on chained again, as someone without the audit key can."""
    prev = GENESIS
    for r in conn.execute(audit_log.select().order_by(audit_log.c.id)).all():
        if r.id < first:
            prev = r.hash
            continue
        digest = forge(prev, _aware(r.at), r.operator, r.action, r.subject, r.reason, r.details)
        conn.execute(audit_log.update().where(audit_log.c.id == r.id).values(prev_hash=prev, hash=digest))
        prev = digest


def broken(audit: AuditLog) -> tuple[int | None, str]:
    verdict = audit.verify()
    assert not verdict.whole
    return verdict.broken_at, verdict.why or ""


def test_a_clean_trail_verifies_against_its_checkpoints(database, checkpoints):
    audit = trail(database, checkpoints)
    verdict = audit.verify()
    assert verdict.whole and verdict.broken_at is None and not verdict.forged
    assert (verdict.entries, verdict.checkpoints, verdict.latest.entry, verdict.after_latest) == (12, 2, 10, 2)
    assert audit.verify(anchors=dict([audit.head()])).whole


def test_a_rewritten_entry_is_caught_even_with_the_rest_chained_again(database, checkpoints, forge):
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == 7).values(reason="nothing to see"))
        rehash_from(conn, 7, forge)
    at, why = broken(audit)
    assert at == 7 and "does not match its fields under the audit key" in why


def test_a_rewritten_entry_is_caught_even_when_nothing_else_is_touched(database, checkpoints):
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == 3).values(operator="someone else"))
    assert broken(audit)[0] == 3


def test_a_deleted_entry_is_caught(database, checkpoints, forge):
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id == 7))
    at, why = broken(audit)
    assert at == 8 and "does not follow the entry before it" in why
    with database.engine.begin() as conn:
        rehash_from(conn, 8, forge)
    assert broken(audit)[0] == 8


def test_a_cut_tail_is_caught_by_the_latest_checkpoint(database, checkpoints):
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id >= 9))
    at, why = broken(audit)
    assert at == 10 and "no longer there" in why


def test_only_the_entries_after_the_latest_checkpoint_rest_on_the_chain_alone(database, checkpoints):
    """Cut after the latest checkpoint, the trail is still whole: `verify` says how much that covers."""
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id > 10))
    verdict = audit.verify()
    assert verdict.whole and (verdict.entries, verdict.latest.entry, verdict.after_latest) == (10, 10, 0)


def test_a_forged_appended_entry_is_caught(database, checkpoints, forge):
    audit = trail(database, checkpoints)
    prev = audit.head()[1]
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    values = dict(at=at, operator="ops", action="discard", subject="1", reason="cleanup", details="{}")
    with database.engine.begin() as conn:
        result = conn.execute(audit_log.insert().values(**values, prev_hash=prev, hash=forge(prev, **values)))
    assert broken(audit)[0] == result.inserted_primary_key[0] == 13


def test_a_reordered_chain_is_caught(database, checkpoints):
    audit = trail(database, checkpoints)
    fields = ("at", "operator", "action", "subject", "reason", "details", "prev_hash", "hash")
    with database.engine.begin() as conn:
        third, fourth = conn.execute(select(audit_log).where(audit_log.c.id.in_((3, 4))).order_by("id")).all()
        for row, other in ((third, fourth), (fourth, third)):
            conn.execute(
                audit_log.update().where(audit_log.c.id == row.id).values({f: getattr(other, f) for f in fields})
            )
    assert broken(audit)[0] == 3


def test_a_renumbered_chain_is_caught(database, checkpoints):
    """Ids are not in the chain's material: moved in order, the chain holds, but a checkpoint names an
    entry that is now another one."""
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:  # 6, 7, 8 … become 8, 9, 10 …, in two steps for the unique key
        conn.execute(audit_log.update().where(audit_log.c.id > 5).values(id=audit_log.c.id + 1000))
        conn.execute(audit_log.update().where(audit_log.c.id > 1000).values(id=audit_log.c.id - 998))
    at, why = broken(audit)
    assert at == 10 and "holds another hash" in why


def test_a_checkpoint_counting_other_entries_than_the_chain_is_caught(database, checkpoints):
    audit = trail(database, checkpoints)
    entry, digest = audit.head()
    fields = {"entry": entry, "hash": digest, "entries": 13, "at": "2026-12-02T12:00:00+00:00"}
    with checkpoints.open("a") as handle:
        handle.write(json.dumps({**fields, "mac": _checkpoint_mac(KEY, fields)}) + "\n")
    at, why = broken(audit)
    assert at == 12 and "counted 13 entries up to it; the chain has 12" in why


def test_an_emptied_table_is_caught(database, checkpoints):
    audit = trail(database, checkpoints)
    with database.engine.begin() as conn:
        conn.execute(audit_log.delete())
    assert broken(audit)[0] == 5


def test_a_forged_or_altered_checkpoint_line_is_refused(database, checkpoints):
    audit = trail(database, checkpoints)
    entry, digest = audit.head()
    fields = {"entry": entry, "hash": digest, "entries": 12, "at": "2026-12-02T12:00:00+00:00"}
    altered = {**lines(checkpoints)[1], "entries": 9}
    with checkpoints.open("a") as handle:
        handle.write(json.dumps({**fields, "mac": _checkpoint_mac(WRONG_KEY, fields)}) + "\n")
        handle.write(json.dumps(altered) + "\n")
        handle.write('{"entry": 12, "hash"\n')
    verdict = audit.verify()
    assert not verdict.whole and verdict.broken_at is None and verdict.checkpoints == 2
    assert [why.split(" line ")[1] for why in verdict.forged] == [
        "3 is forged: its mac does not verify under the audit key",
        "4 is forged: its mac does not verify under the audit key",
        "5 is not a checkpoint",
    ]


def test_anchors_known_from_elsewhere_are_held_too(database):
    audit = trail(database, None)
    entry, digest = audit.head()
    assert audit.verify({entry: digest}).whole
    assert audit.verify({entry: "0" * 64}).broken_at == entry
    assert audit.verify({99: digest}).broken_at == 99


def test_a_checkpoint_every_n_entries_and_when_the_head_moved(database, checkpoints, caplog):
    caplog.set_level(logging.INFO, logger="hub.store.audit")
    audit = trail(database, checkpoints)
    written = lines(checkpoints)
    assert [(c["entry"], c["entries"]) for c in written] == [(5, 5), (10, 10)]
    assert all(set(c) == {"entry", "hash", "entries", "at", "mac"} for c in written)
    with database.engine.connect() as conn:
        hashes = dict(conn.execute(select(audit_log.c.id, audit_log.c.hash)).all())
    assert [c["hash"] for c in written] == [hashes[5], hashes[10]]
    logged = [r for r in caplog.records if r.getMessage() == "audit checkpoint"]
    assert [{k: getattr(r, k) for k in written[0]} for r in logged] == written  # the log is a second witness

    assert audit.checkpoint_if_moved().entry == 12
    assert audit.checkpoint_if_moved() is None  # the head has not moved
    trail(database, None, entries=1, every=1000)  # another process appends
    assert (audit.checkpoint_if_moved().entry, lines(checkpoints)[-1]["entries"]) == (13, 13)
    for n in range(EVERY):  # this process's count starts again at its last checkpoint
        audit.record(operator="ops", action="query", subject=f"t{n}", reason="why", details={})
    assert [c["entry"] for c in lines(checkpoints)] == [5, 10, 12, 13, 18]
    assert audit.verify().whole


def test_a_checkpoint_that_cannot_be_written_fails_no_append(database, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    audit = trail(database, blocker / "checkpoints.jsonl", entries=3, every=1)
    assert audit.checkpoint_if_moved() is None
    assert len(audit.entries()) == 3 and audit.verify(checkpoint_files=[]).whole
    assert [r.levelname for r in caplog.records if r.getMessage() == "audit checkpoint not written"] == ["WARNING"] * 4


def test_appends_from_many_threads_of_one_process_all_land_on_one_chain(database, checkpoints):
    """Entries are appended from several threads (the query desk's writer, the console's requests,
    replay jobs): two appends reading the same head would fork the chain (or, on SQLite, fail on a
    stale snapshot)."""
    audit = AuditLog(database, KEY, checkpoint_file=checkpoints, checkpoint_every=10)

    def append(n: int) -> None:
        audit.record(operator="ops", action="query", subject=f"s{n}", reason="why", details={"n": n})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(80)))
    verdict = audit.verify()
    assert verdict.whole and verdict.checkpoints == 8 and len(audit.entries(limit=100)) == 80


def test_a_batch_lands_in_its_order_on_the_chain_or_not_at_all(database, checkpoints):
    """The query desk writes the entries of callers at once in one transaction."""
    audit = trail(database, checkpoints, entries=3)
    audit.record_many([Note("ops", "query", f"b{n}", "why", {"n": n}) for n in range(4)])
    assert [e.subject for e in audit.entries()] == ["b3", "b2", "b1", "b0", "s2", "s1", "s0"]
    verdict = audit.verify()
    assert verdict.whole and verdict.checkpoints == 1 and verdict.latest.entry == 7  # 7 appended since none
    with pytest.raises(Exception):  # noqa: B017 - whichever error the database gives for a missing subject
        audit.record_many([Note("ops", "query", "c0", "why", {}), Note("ops", "query", None, "why", {})])  # type: ignore[arg-type]
    assert len(audit.entries()) == 7 and audit.verify().whole


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def local_settings(folder: Path, **overrides) -> Settings:
    values = {
        "store_url": f"sqlite:///{folder / 'store' / 'hub.sqlite3'}",
        "store_key_file": folder / "keys" / "store.key",
        "pseudonym_key_file": folder / "keys" / "pseudonym.key",
        "audit_key_file": folder / "keys" / "audit.key",
        "audit_checkpoint_file": folder / "audit" / "checkpoints.jsonl",
        "audit_checkpoint_entries": EVERY,
        **overrides,
    }
    return Settings(**values)


def test_the_database_the_checkpoints_and_the_key_are_the_hub_users_alone(tmp_path):
    settings = local_settings(tmp_path, audit_checkpoint_entries=1)
    parts = build(settings)
    parts.audit.record(operator="ops", action="query", subject="s", reason="why", details={})
    store = tmp_path / "store" / "hub.sqlite3"
    sides = [store.with_name(store.name + suffix) for suffix in ("-wal", "-shm")]
    assert all(side.exists() for side in sides)  # the pool keeps a connection open
    assert [_mode(p) for p in (store, *sides, settings.audit_checkpoint_file, settings.audit_key_file)] == [0o600] * 5
    assert _mode(store.parent) == _mode(settings.audit_checkpoint_file.parent) == 0o700
    parts.close()


def test_a_database_file_open_to_others_is_kept_but_warned_about(tmp_path, caplog):
    path = tmp_path / "old.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    Database(f"sqlite:///{path}", build(local_settings(tmp_path)).db.sealer).close()
    assert _mode(path) == 0o644
    (warning,) = [r for r in caplog.records if "open to its group or others" in r.getMessage()]
    assert warning.levelname == "WARNING" and warning.mode == "0o644"


def test_checking_never_makes_up_a_key(tmp_path):
    settings = local_settings(tmp_path)
    hub = build(settings)
    assert hub.store.counts() == {}  # the hub's store, made before any audit key
    hub.close()
    with pytest.raises(KeyMissing, match="HUB_AUDIT_KEY"):
        _ = build(settings, create=False).audit
    assert not settings.audit_key_file.exists()


def test_hub_audit_verify_as_an_operator_runs_it(database, tmp_path):
    settings = local_settings(tmp_path, store_url=database.engine.url.render_as_string(hide_password=False))
    audit = build(settings).audit
    for n in range(12):
        audit.record(operator="ops", action="query", subject=f"s{n}", reason="why", details={})
    env = environment(settings)
    whole = hub_cli("audit", "verify", env=env, timeout=60)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert "audit trail is whole: 12 entries, the latest checkpoint (entry 10 at " in whole.stdout
    assert "2 entries after it are covered by the keyed chain only" in whole.stdout
    with database.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.id >= 9))
    cut = hub_cli("audit", "verify", env=env, timeout=60)
    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert "audit trail is broken at entry 10: the checkpoint of " in cut.stdout


def test_the_gateway_checkpoints_what_other_processes_append_and_again_when_it_stops(start_hub):
    hub = start_hub(workers=False, audit_checkpoint_seconds=0.05)
    elsewhere = build(hub.settings).audit  # a `hub failed …` command, say
    elsewhere.record(operator="ops", action="discard", subject="1", reason="why", details={})
    file = hub.settings.audit_checkpoint_file
    wait_for(lambda: file.exists() and lines(file)[-1]["entry"] == 1, timeout=10)
    hub.supervisor.stopping.set()  # the ticker ends; what is appended after it, the hub witnesses as it stops
    (ticker,) = [t for t in hub.supervisor.threads if t.name == "audit-checkpoints"]
    ticker.join(timeout=10)
    elsewhere.record(operator="ops", action="discard", subject="2", reason="why", details={})
    hub.stop()
    assert [c["entry"] for c in lines(file)] == [1, 2]
    assert hub.audit.verify().whole
    elsewhere.engine.dispose()
