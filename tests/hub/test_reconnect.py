"""Reconnect waits that start short again: every blip costs a short wait, not the longest one."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from hub.broker import open_broker
from hub.broker.backoff import Backoff
from hub.broker.consumer import ConsumerLoop, Received
from hub.broker.message import OutgoingMessage
from hub.broker.rabbit import AmqpPublisher
from hub.broker.topology import Topology
from tests.helpers import running, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waits_double_while_attempts_fail_up_to_the_longest():
    backoff = Backoff(first=0.25, longest=1.5, spread=lambda: 1.0, clock=Clock())
    assert [backoff.wait() for _ in range(6)] == [0.25, 0.5, 1.0, 1.5, 1.5, 1.5]


def test_a_connection_that_stayed_up_starts_the_waits_again():
    clock = Clock()
    backoff = Backoff(first=0.25, longest=1.5, healthy=5.0, spread=lambda: 1.0, clock=clock)
    for _ in range(5):  # blips an hour apart, each after a healthy connection
        backoff.connected()
        clock.now += 3600
        assert backoff.wait() == 0.25
        clock.now += 0.25


def test_a_connection_lost_at_once_keeps_doubling():
    clock = Clock()
    backoff = Backoff(first=0.25, longest=1.5, healthy=5.0, spread=lambda: 1.0, clock=clock)
    waits = []
    for _ in range(4):
        backoff.connected()
        clock.now += 1.0  # up, but not for long: the broker is flapping
        waits.append(backoff.wait())
    assert waits == [0.25, 0.5, 1.0, 1.5]


def test_waits_are_spread_so_processes_do_not_knock_at_once():
    waits = {Backoff(first=1.0, longest=1.0).wait() for _ in range(50)}
    assert len(waits) > 1 and all(0.8 <= w <= 1.0 for w in waits)


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def vhost_url(amqp_url: str) -> Iterator[str]:
    """A vhost of this test's own: its connections can be closed without touching anyone else's."""
    vhost = f"hubtest-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        server = amqp_url[: amqp_url.index("/", len("amqp://"))]
        yield f"{server}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def connections(vhost: str) -> list[str]:
    return [
        line.split("\t")[0]
        for line in rabbitmqctl("list_connections", "pid", "vhost").splitlines()
        if line.endswith("\t" + vhost)
    ]


BLIPS = 5
BACK_WITHIN_SECONDS = 2.0


@pytest.mark.rabbitmq
def test_the_consumer_and_the_publisher_are_back_within_two_seconds_of_every_blip(vhost_url):
    vhost = vhost_url.rsplit("/", 1)[1]
    broker = open_broker(vhost_url)
    topology = Topology("hubtest", ("spolis",))
    broker.declare(topology)
    got: list[bytes] = []

    def handle(batch: list[Received]) -> None:
        for received in batch:
            got.append(received.body)
            received.ack()

    loop = ConsumerLoop(
        broker, topology.delivery_queue("spolis"), handle, prefetch=10, batch_size=1, flush_seconds=0.05, name="t"
    )
    stop, thread = running(loop)
    publisher = broker.publisher(topology)
    publisher.start(timeout=20)
    try:
        wait_for(loop.connected.is_set, timeout=20)
        for blip in range(BLIPS):
            time.sleep(0.5)  # up a while, not long enough to count as healthy: the waits would grow
            wait_for(lambda: len(connections(vhost)) == 2, timeout=20)  # the consumer's and the publisher's
            for pid in connections(vhost):
                rabbitmqctl("close_connection", pid, "a blip")
            closed = time.monotonic()
            wait_for(lambda: not loop.connected.is_set() or not publisher.connected, timeout=10)
            wait_for(lambda: loop.connected.is_set() and publisher.connected, timeout=10)
            assert time.monotonic() - closed < BACK_WITHIN_SECONDS, f"blip {blip + 1}"
            body = b"after blip %d" % blip
            message = OutgoingMessage(
                topology.delivery_exchange, "spolis", body, str(uuid.uuid4()), str(uuid.uuid4()), "t.v1", 0
            )
            publisher.publish([message]).result(timeout=10)
            wait_for(lambda sent=body: got[-1:] == [sent], timeout=10)
    finally:
        stop.set()
        publisher.close()
        thread.join(timeout=10)


def test_a_publisher_that_never_started_closes_quietly():
    """`hub serve` stops what it built when its start fails; the publisher may not have started."""
    AmqpPublisher("amqp://guest:guest@127.0.0.1:1/").close()
