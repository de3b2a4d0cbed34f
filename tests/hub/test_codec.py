"""On the broker a message body is sealed: what RabbitMQ keeps on disk, and shows in its management
UI, holds no person code; the hub's ids stay readable in the properties."""

from __future__ import annotations

import pytest
from kombu import Connection, Queue

from hub.broker.codec import BrokerCodec
from tests.hub.test_worker import factory, submit


def test_a_body_sealed_by_another_key_or_not_at_all_is_refused_as_such():
    codec, other = BrokerCodec.throwaway(), BrokerCodec.throwaway()
    sealed = codec.seal(b'{"person_code": "010101-11111"}')
    assert b"010101" not in sealed and codec.open(sealed) == b'{"person_code": "010101-11111"}'
    for body in (other.seal(b"{}"), b'{"message_id": "x"}', b""):
        with pytest.raises(ValueError):
            codec.open(body)


@pytest.mark.rabbitmq
def test_what_waits_in_rabbitmq_is_sealed(start_hub, amqp_url, spolis):
    hub = start_hub(amqp_url, workers=False)
    records = factory(71).batch(3)
    ids = submit(hub, records)
    with Connection(amqp_url) as connection:
        queue = Queue(hub.topology.delivery_queue("spolis"), no_declare=True).bind(connection.channel())
        waiting = [queue.get(no_ack=False) for _ in records]
        for message in waiting:
            message.requeue()
    bodies = [m.body for m in waiting]
    assert all(r.person_code.encode() not in b and r.record_id.encode() not in b for r in records for b in bodies)
    assert {m.properties["message_id"] for m in waiting} == set(ids.values())
    assert {str(hub.codec.envelope(b).message_id) for b in bodies} == set(ids.values())
