"""The SPOLIS simulator keeps the latest decision per source record, by the decision's own time."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from adapters.spolis.client import SpolisTarget
from hub.canonical import Municipality
from hub.envelope import Envelope
from hub.settings import PROJECT_ROOT
from hub.simulation.records import RecordFactory
from hub.systems import TargetSettings

RIGA = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")


def envelope(record, message_id: str) -> Envelope:  # type: ignore[no-untyped-def]
    return Envelope.of(
        record, source="sopa", target="spolis", user_id="u.1", correlation_id=uuid.uuid4(), message_id=message_id
    )


def test_an_earlier_decision_arriving_later_never_replaces_a_later_one(spolis):
    target = SpolisTarget(TargetSettings(spolis.endpoint, 5, PROJECT_ROOT / "schemas"))
    first = RecordFactory(municipality=RIGA, record_prefix="V", decision_prefix="V", rng=random.Random(1)).benefit()
    later = first.model_copy(
        update={"decided_at": first.decided_at + dt.timedelta(hours=2), "amount": first.amount + 1}
    )
    v2 = "00000000-0000-4000-8000-0000000000b2"
    v1 = "00000000-0000-4000-8000-0000000000b1"
    assert [r.outcome for r in target.deliver([envelope(later, v2)])] == ["delivered"]
    assert [r.outcome for r in target.deliver([envelope(first, v1)])] == ["delivered"]
    assert spolis.store.current("sopa", first.record_id) == v2
    assert spolis.store.stats()["stale_versions"] == 1
    assert [r.outcome for r in target.deliver([envelope(later, v2)])] == ["duplicate"]
    assert spolis.store.stats()["duplicates"] == 1
    target.close()
