"""A handler failing in a way that passes keeps its batch on the channel: handled again, not redelivered."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy.exc import OperationalError

from hub.broker import open_broker
from hub.broker.consumer import ConsumerLoop, Received
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from tests.helpers import running, wait_for


def run_loop(broker_url: str, prefix: str, handle, messages: int, pause=None):  # type: ignore[no-untyped-def]
    broker = open_broker(broker_url)
    topology = Topology(prefix, ("spolis",))
    broker.declare(topology)
    publisher = broker.publisher(topology)
    publisher.start(timeout=20)
    batch = [
        OutgoingMessage(topology.delivery_exchange, "spolis", b"%d" % n, str(uuid.uuid4()), "c", "t.v1", 0)
        for n in range(messages)
    ]
    publisher.publish(batch).result(timeout=20)
    publisher.close()
    loop = ConsumerLoop(
        broker,
        topology.delivery_queue("spolis"),
        handle,
        prefetch=50,
        batch_size=50,
        flush_seconds=0.05,
        name="t",
        **({"pause": pause} if pause else {}),
    )
    stop, thread = running(loop)
    return loop, stop, thread


def test_a_batch_the_database_cannot_settle_is_held_and_handled_again_without_redelivery(broker_url, broker_prefix):
    calls: list[list[tuple[bytes, bool]]] = []

    def handle(batch: list[Received]) -> None:
        calls.append([(r.body, r.redelivered) for r in batch])
        batch[0].ack()  # settled before the database went away: acked, not handed again
        if len(calls) <= 3:
            raise OperationalError("UPDATE message_status ...", {}, Exception("server closed the connection"))
        for received in batch:
            received.ack()

    loop, stop, thread = run_loop(broker_url, broker_prefix, handle, 10)
    try:
        wait_for(lambda: len(calls) >= 4, timeout=30)
        wait_for(lambda: not loop._held, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert [len(c) for c in calls[:4]] == [10, 9, 8, 7]  # each try settles one more before failing
    assert not any(redelivered for call in calls for _, redelivered in call)


@pytest.mark.rabbitmq
def test_a_handler_s_bug_drops_the_connection_and_the_broker_hands_the_batch_out_again(amqp_url, broker_prefix):
    calls: list[list[bool]] = []

    def handle(batch: list[Received]) -> None:
        calls.append([r.redelivered for r in batch])
        if len(calls) == 1:
            raise KeyError("a bug")
        for received in batch:
            received.ack()

    loop, stop, thread = run_loop(amqp_url, broker_prefix, handle, 5)
    try:
        wait_for(lambda: len(calls) >= 2, timeout=30)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert calls[0] == [False] * 5 and calls[1] == [True] * 5


def test_a_paused_loop_hands_nothing_over_and_gives_nothing_back_to_the_broker(broker_url, broker_prefix):
    """An open circuit pauses the loop many times a day: a message handed back each time would count a
    delivery, and a healthy one would end as poison."""
    calls: list[list[tuple[bytes, bool]]] = []
    paused = [True]

    def handle(batch: list[Received]) -> None:
        calls.append([(r.body, r.redelivered) for r in batch])
        for received in batch:
            received.ack()

    loop, stop, thread = run_loop(broker_url, broker_prefix, handle, 10, pause=lambda: 1.0 if paused[0] else 0.0)
    try:
        wait_for(loop.connected.is_set, timeout=20)
        time.sleep(1.0)
        assert calls == []
        paused[0] = False
        wait_for(lambda: sum(len(c) for c in calls) >= 10, timeout=20)
    finally:
        stop.set()
        thread.join(timeout=10)
    handed = [body for call in calls for body, _ in call]
    assert sorted(handed) == sorted(b"%d" % n for n in range(10))
    assert not any(redelivered for call in calls for _, redelivered in call)
