"""On the broker a message body is sealed: what RabbitMQ keeps on disk, and shows in its management
UI, holds no person code; the hub's ids stay readable in the properties."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Queue

from hub.broker.codec import BrokerCodec
from hub.envelope import Envelope, envelope_fields
from tests.helpers import factory, submit


def test_a_body_sealed_by_another_key_or_not_at_all_is_refused_as_such():
    codec, other = BrokerCodec.throwaway(), BrokerCodec.throwaway()
    sealed = codec.seal(b'{"person_code": "010101-11111"}')
    assert b"010101" not in sealed and codec.open(sealed) == b'{"person_code": "010101-11111"}'
    for body in (other.seal(b"{}"), b'{"message_id": "x"}', b""):
        with pytest.raises(ValueError):
            codec.open(body)


@pytest.mark.rabbitmq
def test_what_waits_in_rabbitmq_is_sealed_one_bundle_per_load(start_hub, amqp_url, spolis):
    hub = start_hub(amqp_url, workers=False)
    records = factory(71).batch(3)
    ids = submit(hub, records)
    with Connection(amqp_url) as connection:
        queue = Queue(hub.topology.delivery_queue("spolis"), no_declare=True).bind(connection.channel())
        bundle = queue.get(no_ack=False)
        nothing_else = queue.get(no_ack=False)
        bundle.requeue()
    assert nothing_else is None
    assert all(r.person_code.encode() not in bundle.body and r.record_id.encode() not in bundle.body for r in records)
    assert bundle.headers["hub-records"] == len(records) and bundle.headers["hub-target"] == "spolis"
    assert bundle.properties["correlation_id"] == str(hub.codec.envelopes(bundle.body)[0].correlation_id)
    assert sorted(str(e.message_id) for e in hub.codec.envelopes(bundle.body)) == sorted(ids.values())


def test_a_bundle_opens_to_its_envelopes_and_an_empty_one_is_refused():
    """Fields with the record as it is (as the gateway bundles a load) and an envelope's own fields (a
    correction, a replay) open to the same envelopes the model makes."""
    codec = BrokerCodec.throwaway()
    receipt = uuid.uuid4()
    fields = [
        envelope_fields(r, source="sopa", target="spolis", user_id="u.1", correlation_id=receipt, flow="F1")
        for r in factory(72).batch(3)
    ]
    envelopes = [Envelope.from_fields(f) for f in fields]
    assert [e.payload for e in envelopes] == [f["payload"].model_dump(mode="json") for f in fields]  # type: ignore[union-attr]
    for given in (fields, [e.fields() for e in envelopes]):
        bundle = codec.bundle(given, "hub.deliver", "spolis")
        assert codec.envelopes(bundle.body) == envelopes and bundle.headers["hub-records"] == 3
    with pytest.raises(ValueError, match="empty bundle"):
        codec.envelopes(codec.seal(b"[]"))
    with pytest.raises(ValueError):
        codec.envelopes(codec.seal(b'[{"message_id": "x"}]'))
