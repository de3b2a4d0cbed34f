"""Delivery workers, on the embedded broker and on RabbitMQ: an ack only after SPOLIS confirmed,
or after the message waits for a retry outside the worker, or after it is in the failed-message
store with its reason. SPOLIS failing, slow or down delays records but loses and doubles none."""

from __future__ import annotations

import time

import httpx
from kombu import Connection

from hub.broker.message import OutgoingMessage
from hub.envelope import Envelope
from hub.store.failed import Filter
from tests.helpers import factory, metric, submit, wait_for


def test_a_record_spolis_refuses_goes_to_the_failed_store_with_its_reason(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    f = factory(1)
    unknown = f.social_service().model_copy(update={"provider_register_no": "S99999"})
    labels = {"flow": "F1", "source": "sopa", "target": "spolis", "type": unknown.TYPE}
    labels["error_class"] = "target_rejected"
    before = metric(hub, "hub_messages_failed_total", labels)
    ids = submit(hub, [f.benefit(), unknown, f.benefit()])
    refused = ids.pop(unknown.record_id)
    wait_for(lambda: hub.store.counts().get("failed") == 1 and hub.store.counts().get("delivered") == 2)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    record = hub.store.message_status(refused).records[0]
    assert (record.status, record.error_class) == ("failed", "target_rejected")
    assert "NEZINAMS_SNIEDZEJS" in record.reason
    (stored,) = hub.failed.find(Filter())
    assert (stored.message_id, stored.error_class, stored.target) == (refused, "target_rejected", "spolis")
    assert stored.attempts and stored.attempts[-1].error_class == "target_rejected"
    envelope, _ = hub.failed.envelope(stored.id)
    assert envelope.payload["provider_register_no"] == "S99999"
    assert unknown.record_id.encode() in hub.failed.source_xml(stored.id)
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
    assert not hub.failed.find(Filter())


def test_answers_that_come_too_late_are_retried_and_spolis_keeps_each_record_once(start_hub, broker_url, spolis):
    spolis.knobs.timeout_rate, spolis.knobs.timeout_seconds = 0.3, 3.0
    hub = start_hub(broker_url, delivery_batch_size=25, target_timeout_seconds=1.0)
    ids = submit(hub, factory(6).batch(100))
    wait_for(lambda: hub.store.counts().get("delivered") == 100, timeout=120)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["timeouts_injected"] > 0


def test_spolis_down_opens_the_circuit_then_every_record_arrives_once(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    spolis.stop()
    ids = submit(hub, factory(3).batch(150))
    wait_for(lambda: httpx.get(f"{hub.gateway_url}/readyz").json()["circuits"]["spolis"] == "open", timeout=30)
    assert metric(hub, "hub_target_circuit_state", {"target": "spolis"}) == 2
    assert metric(hub, "hub_retries_scheduled_total", {"target": "spolis", "delay": "0.3s"}) > 0
    assert hub.store.counts().get("delivered", 0) == 0
    spolis.start()
    wait_for(lambda: spolis.store.stats()["records"] == 150, timeout=90)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["duplicates"] == 0
    wait_for(lambda: httpx.get(f"{hub.gateway_url}/readyz").json()["circuits"]["spolis"] == "closed")


def routes(tmp_path, *, max_attempts: int = 50, failures: int = 1000, open_seconds: float = 1) -> str:
    path = tmp_path / "routes.toml"
    path.write_text(
        f"""
[retry_policies.bulk]
quick_attempts = 1
delays_seconds = [0.2]
max_attempts = {max_attempts}

[breakers.spolis]
failures = {failures}
open_seconds = {open_seconds}

[[routes]]
flow = "F1"
types = ["social_assistance.benefit.v1", "social_assistance.household_status.v1", "social_assistance.social_service.v1"]
target = "spolis"
retry_policy = "bulk"
""",
        encoding="utf-8",
    )
    return str(path)


def test_while_the_circuit_is_open_spolis_is_not_called(start_hub, spolis, tmp_path):
    spolis.knobs.fault_rate = 1.0
    hub = start_hub(routes_file=routes(tmp_path, failures=2, open_seconds=30))
    submit(hub, factory(4).batch(40))
    wait_for(lambda: hub.breakers["spolis"].state.name == "OPEN", timeout=30)
    calls = spolis.store.stats()["calls"]
    # Nothing to wait for: while the circuit is open the worker does nothing visible (the records wait on
    # the broker). Ten retry delays (0.2 s), in which a worker ignoring the circuit would call.
    time.sleep(2.0)
    assert spolis.store.stats()["calls"] == calls, "an open circuit must not call the target"
    assert hub.store.counts().get("failed", 0) == 0, "waiting on an open circuit spends no attempts"


def test_out_of_attempts_ends_in_the_store_with_the_history(start_hub, broker_url, spolis, tmp_path):
    spolis.knobs.fault_rate = 1.0
    hub = start_hub(broker_url, routes_file=routes(tmp_path, max_attempts=2))
    ids = submit(hub, factory(5).batch(3))
    wait_for(lambda: hub.store.counts().get("failed") == 3, timeout=60)
    stored = hub.failed.find(Filter())
    assert sorted(s.message_id for s in stored) == sorted(ids.values())
    for s in stored:
        assert s.error_class == "target_unavailable"
        assert s.error_message.startswith("gave up after 3 attempts")
        assert len(s.attempts) == 3
    assert spolis.store.stats()["records"] == 0


def test_a_redelivered_message_the_hub_already_delivered_is_not_sent_again(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    record = factory(7).benefit()
    message_id = submit(hub, [record])[record.record_id]
    wait_for(lambda: hub.store.counts().get("delivered") == 1)
    calls = spolis.store.stats()["calls"]
    before = metric(hub, "hub_deduplicated_total", {"target": "spolis"})
    again = Envelope.of(
        record,
        source="sopa",
        target="spolis",
        user_id="u.1",
        correlation_id=hub.store.message_status(message_id).receipt_id,
        message_id=message_id,
    )
    hub.publisher.publish([hub.codec.message(again, hub.topology.delivery_exchange, "spolis")]).result(timeout=10)
    wait_for(lambda: metric(hub, "hub_deduplicated_total", {"target": "spolis"}) == before + 1)
    assert spolis.store.stats()["calls"] == calls
    assert spolis.store.stats()["duplicates"] == 0


def test_a_load_larger_than_a_target_call_is_sent_in_parts_and_its_bundle_acked_once_all_arrived(
    start_hub, amqp_url, spolis
):
    hub = start_hub(amqp_url, delivery_batch_size=4)
    ids = submit(hub, factory(8).batch(10))
    wait_for(lambda: hub.store.counts().get("delivered") == 10)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["calls"] >= 3, "no call carries more than the batch size"
    hub.stop()  # whatever it left unacked goes back to the queue
    with Connection(amqp_url) as connection:
        queue = connection.channel().queue_declare(hub.topology.delivery_queue("spolis"), passive=True)
    assert queue.message_count == 0


def test_a_redelivered_bundle_sends_only_what_the_hub_has_not_delivered(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    records = factory(9).batch(3)
    ids = submit(hub, records[:2])
    wait_for(lambda: hub.store.counts().get("delivered") == 2)
    receipt = hub.store.message_status(next(iter(ids.values()))).receipt_id
    before = metric(hub, "hub_deduplicated_total", {"target": "spolis"})
    again = [
        Envelope.of(
            r, source="sopa", target="spolis", user_id="u.1", correlation_id=receipt, message_id=ids[r.record_id]
        )
        for r in records[:2]
    ]
    new = Envelope.of(records[2], source="sopa", target="spolis", user_id="u.1", correlation_id=receipt)
    bundle = hub.codec.bundle([e.fields() for e in [*again, new]], hub.topology.delivery_exchange, "spolis")
    hub.publisher.publish([bundle]).result(timeout=10)
    wait_for(lambda: spolis.store.stats()["records"] == 3)
    assert metric(hub, "hub_deduplicated_total", {"target": "spolis"}) == before + 2
    assert sorted(spolis.store.message_ids()) == sorted([*ids.values(), str(new.message_id)])
    assert spolis.store.stats()["duplicates"] == 0


def test_a_message_that_is_not_an_envelope_is_stored_not_dropped(start_hub, broker_url):
    hub = start_hub(broker_url)
    garbage = OutgoingMessage(hub.topology.delivery_exchange, "spolis", b"{not json", "m-1", "c-1", "x", 0)
    hub.publisher.publish([garbage]).result(timeout=10)
    (stored,) = wait_for(lambda: hub.failed.find(Filter()))
    assert stored.error_class == "malformed_message"
    envelope, raw = hub.failed.envelope(stored.id)
    assert envelope is None and raw == b"{not json"
