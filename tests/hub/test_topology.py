"""The retry ladder shares its delay queues across targets: a delayed message still returns to its own
target, because dead-lettering keeps the routing key it was published with."""

from __future__ import annotations

import time
import uuid

from kombu import Connection, Queue
from kombu.message import Message

from hub.broker import open_broker
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from tests.helpers import wait_for


def _message(target: str) -> OutgoingMessage:
    return OutgoingMessage("", "", target.encode(), str(uuid.uuid4()), str(uuid.uuid4()), "test.v1", 0)


def test_one_delay_queue_per_distinct_delay_whatever_the_number_of_targets():
    topology = Topology("p", ("a", "b", "c"), {"a": (5, 30), "b": (5, 30), "c": (5, 600)})
    delays = [q for q in topology.queues(quorum=True) if q.name.startswith("p.retry.")]
    assert [q.name for q in delays] == ["p.retry.5s", "p.retry.30s", "p.retry.10m"]
    for queue in delays:
        assert queue.exchange.name == queue.name and queue.exchange.type == "fanout"
        assert queue.queue_arguments["x-dead-letter-exchange"] == "p.deliver"
        assert "x-dead-letter-routing-key" not in queue.queue_arguments  # the message's own key: its target
    assert topology.all_queue_names().count("p.retry.5s") == 1
    assert {"p.retry.5s", "p.retry.30s", "p.retry.10m"} <= set(topology.exchanges)
    assert ("p.retry.10m", "a") in topology.bound_routes()  # any target may wait out any delay


def test_messages_for_two_targets_wait_in_one_delay_queue_and_each_returns_to_its_target(broker_url, broker_prefix):
    topology = Topology(broker_prefix, ("a", "b"), {"a": (0.3,), "b": (0.3, 60)})
    broker = open_broker(broker_url)
    broker.declare(topology)
    publisher = broker.publisher(topology)
    publisher.start()
    delayer = broker.delayer(publisher, topology)
    try:
        scheduled = time.monotonic()
        for target in ("a", "b"):
            delayer.schedule(target, 0.3, [_message(target)]).result(timeout=10)
        came: dict[str, Message] = {}
        with Connection(broker_url) as connection:
            channel = connection.channel()

            def both_back() -> bool:
                for target in ("a", "b"):
                    if target not in came:
                        queue = Queue(topology.delivery_queue(target), no_declare=True).bind(channel)
                        if (message := queue.get(no_ack=True)) is not None:
                            came[target] = message
                return len(came) == 2

            wait_for(both_back, timeout=15)
        assert time.monotonic() - scheduled >= 0.25
        assert {t: m.body for t, m in came.items()} == {"a": b"a", "b": b"b"}
        if broker.capabilities.dead_lettering:
            for message in came.values():
                (death,) = message.headers["x-death"]
                assert death["queue"] == topology.retry_queue(0.3) and death["reason"] == "expired"
    finally:
        delayer.close()
        publisher.close()
