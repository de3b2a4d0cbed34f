"""One request per MessageID gives a load its receipt: the claim, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest

from hub.store.claims import Claimed
from hub.store.status import Receipt, StatusStore

STALE = dt.timedelta(seconds=20)
BODY = "b" * 64


@pytest.fixture
def store(database) -> StatusStore:
    return StatusStore(database)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_the_first_claim_holds_and_copies_wait_or_are_told_apart(store):
    receipt_id = str(uuid.uuid4())
    assert store.claims.claim(receipt_id, "sopa", BODY, "first", now(), STALE) is Claimed.OURS
    assert store.claims.claim(receipt_id, "sopa", BODY, "copy", now(), STALE) is Claimed.HELD
    assert store.claims.claim(receipt_id, "sopa", "c" * 64, "other", now(), STALE) is Claimed.OTHER_BODY
    assert store.claims.claim(receipt_id, "lietis", BODY, "other", now(), STALE) is Claimed.OTHER_BODY
    assert store.claims.outcome(receipt_id).held


def test_a_given_receipt_ends_the_claim(store):
    receipt_id = str(uuid.uuid4())
    store.claims.claim(receipt_id, "sopa", BODY, "first", now(), STALE)
    store.add_receipt(Receipt(receipt_id, "sopa", "Op", BODY, 0, now()), "user.1")
    assert not store.claims.outcome(receipt_id).held
    assert store.find_receipt(receipt_id) is not None


def test_a_refused_load_leaves_its_fault_for_copies_and_the_next_copy_tries_again(store):
    receipt_id = str(uuid.uuid4())
    store.claims.claim(receipt_id, "sopa", BODY, "first", now(), STALE)
    store.discard_pending(receipt_id, "first", b"<fault>broker down</fault>")
    outcome = store.claims.outcome(receipt_id)
    assert not outcome.held and outcome.fault == b"<fault>broker down</fault>"
    assert store.claims.claim(receipt_id, "sopa", BODY, "next", now(), STALE) is Claimed.OURS
    assert store.claims.outcome(receipt_id).held and store.claims.outcome(receipt_id).fault is None


def test_only_the_holder_ends_its_claim(store):
    receipt_id = str(uuid.uuid4())
    store.claims.claim(receipt_id, "sopa", BODY, "first", now(), STALE)
    store.discard_pending(receipt_id, "someone else", b"<fault/>")
    assert store.claims.outcome(receipt_id).held


def test_a_claim_whose_holder_died_is_taken_over_once_stale(store):
    receipt_id = str(uuid.uuid4())
    store.claims.claim(receipt_id, "sopa", BODY, "died", now() - STALE - dt.timedelta(seconds=1), STALE)
    assert store.claims.claim(receipt_id, "sopa", BODY, "next", now(), STALE) is Claimed.OURS
    assert store.claims.claim(receipt_id, "sopa", BODY, "third", now(), STALE) is Claimed.HELD


def test_of_many_simultaneous_claims_exactly_one_holds(store):
    receipt_id, start = str(uuid.uuid4()), threading.Barrier(12)
    results: list[Claimed] = []

    def claim(n: int) -> None:
        start.wait()
        results.append(store.claims.claim(receipt_id, "sopa", BODY, f"h{n}", now(), STALE))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.value for r in results) == ["held"] * 11 + ["ours"]


def test_old_claims_are_forgotten(store):
    receipt_id = str(uuid.uuid4())
    store.claims.claim(receipt_id, "sopa", BODY, "first", now() - dt.timedelta(days=2), STALE)
    assert store.claims.forget(now() - dt.timedelta(days=1)) == 1
    assert not store.claims.outcome(receipt_id).held
