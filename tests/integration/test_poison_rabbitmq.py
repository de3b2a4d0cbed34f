"""A message a worker keeps crashing on stops after the queue's delivery limit: RabbitMQ dead-letters
it and the hub moves it into the failed-message store, instead of it looping forever."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Queue

from hub.broker.consumer import ConsumerLoop
from hub.delivery.deadletter import DeadLetterMover
from hub.envelope import Envelope
from hub.store.failed import Filter
from tests.helpers import factory, running, wait_for

pytestmark = pytest.mark.rabbitmq


def crash_on(url: str, queue: str) -> bool:
    """Take one message and die without acking it, as a killed worker does; False when none came."""
    with Connection(url) as connection:
        message = Queue(queue, no_declare=True).bind(connection.channel()).get(no_ack=False)
        return message is not None


@pytest.mark.parametrize("records", [1, 3], ids=["one envelope", "a bundle"])
def test_a_poison_message_ends_in_the_store_after_the_delivery_limit(start_hub, amqp_url, spolis, records):
    hub = start_hub(amqp_url, gateway=False, workers=False, delivery_limit=3)
    receipt = uuid.uuid4()
    envelopes = [
        Envelope.of(record, source="sopa", target="spolis", user_id="u.1", correlation_id=receipt)
        for record in factory(21).batch(records)
    ]
    exchange = hub.topology.delivery_exchange
    message = (
        hub.codec.bundle([e.fields() for e in envelopes], exchange, "spolis")
        if records > 1
        else hub.codec.message(envelopes[0], exchange, "spolis")
    )
    hub.publisher.publish([message]).result(timeout=10)
    crashes = 0
    while crash_on(amqp_url, hub.topology.delivery_queue("spolis")):
        crashes += 1
        assert crashes <= 10, "the delivery limit did not stop the message"
    assert crashes == 4, "delivered once, then returned three times (the limit), then dead-lettered"

    mover = ConsumerLoop(
        hub.broker,
        hub.topology.dead_queue,
        DeadLetterMover(hub.failed, hub.message_log, hub.settings.broker_prefix, hub.codec).handle,
        prefetch=10,
        batch_size=10,
        flush_seconds=0.05,
        name="dead-letters-test",
    )
    stop, thread = running(mover)
    try:
        stored = wait_for(lambda: hub.failed.find(Filter()), timeout=30)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert sorted(s.message_id for s in stored) == sorted(str(e.message_id) for e in envelopes)
    for entry in stored:
        assert (entry.error_class, entry.target) == ("poison", "spolis")
        assert "delivery_limit" in entry.error_message or "dead-lettered" in entry.error_message
    assert sorted((hub.failed.envelope(s.id)[0] for s in stored), key=str) == sorted(envelopes, key=str)
