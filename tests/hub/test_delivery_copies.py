"""A record that reaches a worker twice, in one batch or before and after its load's receipt, is sent
to its target once and counted once."""

from __future__ import annotations

import uuid

from kombu import Connection, Queue
from sqlalchemy import delete

from adapters.sopa.dialect import from_canonical
from hub.broker.message import OutgoingMessage
from hub.simulation.client import HubClient
from hub.store.claims import receipt_claims
from hub.store.status import message_status, receipts, requests
from tests.helpers import RIGA, factory, metric, submit, wait_for

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


def refused_after_publishing(store, receipt_id: str) -> None:  # type: ignore[no-untyped-def]
    """The store as the gateway leaves it when the broker took a load's bundle but did not confirm it:
    no receipt, no claim, no rows; the partner was told to retry."""
    with store.engine.begin() as conn:
        for table in (receipts, receipt_claims, message_status, requests):
            conn.execute(delete(table).where(table.c.receipt_id == receipt_id))


def test_a_load_delivered_before_its_refusal_is_counted_once_when_its_resend_is_given_a_receipt(
    start_hub, broker_url, spolis, caplog
):
    body, load_id = from_canonical(factory(5).batch(RECORDS), RIGA, "P-2"), uuid.uuid4()

    def send(hub):  # type: ignore[no-untyped-def]
        client = HubClient(hub.gateway_url, sender="sopa", retries=0)
        try:
            answer = client.call(body, destination="spolis", user_id="u.1", message_id=load_id)
        finally:
            client.close()
        assert answer.fault is None, answer.fault

    gateway = start_hub(broker_url, workers=False)
    send(gateway)
    bundle = take_bundle(broker_url, gateway.topology.delivery_queue("spolis"))
    refused_after_publishing(gateway.store, str(load_id))
    gateway.publisher.publish([bundle]).result(timeout=30)
    delivered = metric(gateway, "hub_messages_delivered_total")
    without_row = metric(gateway, "hub_delivered_without_row_total")
    gateway.stop()  # one hub per process serves the metrics

    worker = start_hub(broker_url, gateway=False)
    wait_for(lambda: spolis.store.stats()["records"] == RECORDS)
    assert metric(worker, "hub_messages_delivered_total") == delivered, "no receipt was given for them"
    assert metric(worker, "hub_delivered_without_row_total") == without_row + RECORDS
    warned = [r for r in caplog.records if "holds no row for" in r.getMessage()]
    assert warned and all(r.levelname == "WARNING" for r in warned), warned
    assert sum(getattr(r, "message_count", 1) for r in warned) == RECORDS, "each record named once"
    worker.stop()

    hub = start_hub(broker_url)
    send(hub)  # the partner's resend, as "retry later" asked
    wait_for(lambda: hub.store.counts() == {"delivered": RECORDS})
    assert metric(hub, "hub_messages_delivered_total") == delivered + RECORDS
    assert metric(hub, "hub_delivered_without_row_total") == without_row + RECORDS, "the resend's had rows"
    stats = spolis.store.stats()
    assert stats["records"] == RECORDS and stats["duplicates"] == RECORDS, stats
