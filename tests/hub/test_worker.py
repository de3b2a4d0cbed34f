"""Delivery workers: an ack only after SPOLIS confirmed or the message was parked with its reason;
a SPOLIS that fails or is down delays records but loses none and duplicates none."""

from __future__ import annotations

import random
import time

from kombu import Connection, Queue

from adapters.sopa.dialect import from_canonical
from hub.broker.message import OutgoingMessage
from hub.canonical import Municipality
from hub.simulation.client import HubClient
from hub.simulation.records import RecordFactory
from tests.hub.test_gateway import metric, wait_for

RIGA = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")


def submit(hub, records) -> dict[str, str]:
    """Message id by record id, as the receipt told."""
    client = HubClient(hub.gateway_url, sender="sopa", retries=0)
    submitted = client.submit(
        from_canonical(records, RIGA, "P-1"), destination="spolis", user_id="u.1", records=len(records)
    )
    client.close()
    assert submitted.accepted, submitted.fault
    status = hub.store.receipt_status(submitted.receipt_id)
    assert sorted(r.message_id for r in status.records) == sorted(submitted.message_ids)
    return {r.record_id: r.message_id for r in status.records}


def factory(seed: int) -> RecordFactory:
    return RecordFactory(municipality=RIGA, record_prefix="W", decision_prefix="W", rng=random.Random(seed))


def parked(url: str, queue: str) -> list:
    with Connection(url, transport_options={"polling_interval": 0.01}) as connection:
        channel = connection.channel()
        found = []
        while (message := Queue(queue, no_declare=True).bind(channel).get(no_ack=True)) is not None:
            found.append(message)
        return found


def test_a_record_spolis_refuses_is_parked_with_its_reason(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    f = factory(1)
    unknown = f.social_service().model_copy(update={"provider_register_no": "S99999"})
    labels = {"source": "sopa", "target": "spolis", "type": unknown.TYPE, "error_class": "target_rejected"}
    before = metric(hub, "hub_messages_failed_total", labels)
    ids = submit(hub, [f.benefit(), unknown, f.benefit()])
    refused = ids.pop(unknown.record_id)
    wait_for(lambda: hub.store.counts().get("failed") == 1 and hub.store.counts().get("delivered") == 2)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    record = hub.store.message_status(refused).records[0]
    assert (record.status, record.error_class) == ("failed", "target_rejected")
    assert "NEZINAMS_SNIEDZEJS" in record.reason
    messages = wait_for(lambda: parked(broker_url, hub.topology.parked_queue))
    assert len(messages) == 1
    assert messages[0].properties["message_id"] == refused
    assert messages[0].headers["hub-error-class"] == "target_rejected"
    assert metric(hub, "hub_messages_failed_total", labels) == before + 1


def test_spolis_failing_a_third_of_its_calls_delays_but_loses_and_doubles_nothing(start_hub, broker_url, spolis):
    spolis.knobs.fault_rate = 0.3
    hub = start_hub(broker_url, delivery_batch_size=20)
    ids = submit(hub, factory(2).batch(200))
    wait_for(lambda: spolis.store.stats()["records"] == 200, timeout=90)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["faults_injected"] > 0
    assert spolis.store.stats()["duplicates"] == 0
    wait_for(lambda: hub.store.counts().get("delivered") == 200)


def test_spolis_down_then_back_gets_every_record(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    spolis.stop()
    ids = submit(hub, factory(3).batch(150))
    time.sleep(1.5)
    assert hub.store.counts().get("delivered", 0) == 0
    spolis.start()
    wait_for(lambda: spolis.store.stats()["records"] == 150, timeout=90)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["duplicates"] == 0


def test_a_message_that_is_not_an_envelope_is_parked_not_dropped(start_hub, broker_url):
    hub = start_hub(broker_url)
    garbage = OutgoingMessage(hub.topology.delivery_exchange, "spolis", b"{not json", "m-1", "c-1", "x", 0)
    hub.publisher.publish([garbage]).result(timeout=10)
    messages = wait_for(lambda: parked(broker_url, hub.topology.parked_queue))
    assert messages[0].body == b"{not json"
    assert messages[0].headers["hub-error-class"] == "malformed_message"
