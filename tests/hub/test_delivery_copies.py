"""A record that reaches a worker twice in one batch is sent to its target once and counted once."""

from __future__ import annotations

from kombu import Connection, Queue

from hub.broker.message import OutgoingMessage
from tests.helpers import factory, metric, submit, wait_for

RECORDS = 40


def take_bundle(url: str, queue: str) -> OutgoingMessage:
    """The one message waiting on `queue`, taken off it as it was published."""
    with Connection(url) as connection:
        message = Queue(queue, no_declare=True).bind(connection.default_channel).get(no_ack=False)
        assert message is not None
        message.ack()
        properties = message.properties
        return OutgoingMessage(
            exchange=message.delivery_info["exchange"],
            routing_key=message.delivery_info["routing_key"],
            body=message.body,
            message_id=properties["message_id"],
            correlation_id=properties["correlation_id"],
            type=properties["type"],
            timestamp=int(properties.get("timestamp") or 0),
            headers=dict(message.headers),
        )


def test_a_bundle_published_twice_reaches_the_target_once(start_hub, broker_url, spolis):
    gateway = start_hub(broker_url, workers=False)
    ids = submit(gateway, factory(3).batch(RECORDS))
    bundle = take_bundle(broker_url, gateway.topology.delivery_queue("spolis"))
    gateway.publisher.publish([bundle, bundle]).result(timeout=30)  # both wait: no worker runs yet
    delivered, deduplicated = metric(gateway, "hub_messages_delivered_total"), metric(gateway, "hub_deduplicated_total")
    counted_by_target = metric(gateway, "hub_target_duplicates_total")
    gateway.stop()  # one hub per process serves the metrics

    worker = start_hub(broker_url, gateway=False, delivery_batch_size=500)
    wait_for(lambda: metric(worker, "hub_deduplicated_total") == deduplicated + RECORDS)
    wait_for(lambda: spolis.store.stats()["records"] == RECORDS)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    stats = spolis.store.stats()
    assert stats["duplicates"] == 0 and stats["calls"] == 1, stats
    assert metric(worker, "hub_messages_delivered_total") == delivered + RECORDS
    assert metric(worker, "hub_target_duplicates_total") == counted_by_target
    assert worker.store.counts() == {"delivered": RECORDS}
