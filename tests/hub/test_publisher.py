"""The publisher resolves only when the broker confirmed, and never drops an unroutable message."""

from __future__ import annotations

import uuid

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection, Queue

from hub.broker import open_broker
from hub.broker.backoff import Backoff
from hub.broker.message import OutgoingMessage
from hub.broker.rabbit import AmqpPublisher
from hub.broker.topology import Topology
from hub.errors import BrokerUnavailable, Unroutable
from tests.helpers import wait_for


def message(exchange: str, routing_key: str, n: int = 0) -> OutgoingMessage:
    return OutgoingMessage(exchange, routing_key, b'{"n": %d}' % n, str(uuid.uuid4()), str(uuid.uuid4()), "test.v1", 0)


@pytest.fixture
def topology(broker_url: str, broker_prefix: str) -> Topology:
    topology = Topology(broker_prefix, ("spolis",))
    open_broker(broker_url).declare(topology)
    return topology


@pytest.fixture
def publisher(broker_url: str, topology: Topology):
    publisher = open_broker(broker_url).publisher(topology)
    publisher.start()
    yield publisher
    publisher.close()


def depth(url: str, queue: str) -> int:
    with Connection(url) as connection:
        return Queue(queue, no_declare=True).bind(connection.channel()).queue_declare(passive=True).message_count


def test_a_batch_resolves_after_every_message_is_confirmed(broker_url, topology, publisher):
    batch = [message(topology.delivery_exchange, "spolis", n) for n in range(2000)]
    publisher.publish(batch).result(timeout=30)
    assert depth(broker_url, topology.delivery_queue("spolis")) == 2000


def test_an_unroutable_message_fails_its_batch(broker_url, topology, publisher):
    batch = [message(topology.delivery_exchange, "spolis"), message(topology.delivery_exchange, "nobody")]
    with pytest.raises(Unroutable):
        publisher.publish(batch).result(timeout=30)
    publisher.publish([message(topology.delivery_exchange, "spolis")]).result(timeout=30)


@pytest.mark.rabbitmq
def test_a_missing_exchange_fails_the_batch_and_the_publisher_recovers(amqp_url, broker_prefix):
    topology = Topology(broker_prefix, ("spolis",))
    open_broker(amqp_url).declare(topology)
    publisher = AmqpPublisher(amqp_url)
    publisher.start()
    try:
        with pytest.raises(Unroutable):
            publisher.publish([message(f"{broker_prefix}.no-such-exchange", "spolis")]).result(timeout=30)
        wait_for(lambda: publisher.connected, timeout=10)  # the broker closed the channel: it reconnects
        publisher.publish([message(topology.delivery_exchange, "spolis")]).result(timeout=30)
    finally:
        publisher.close()


@pytest.mark.rabbitmq
def test_queues_are_durable_quorum_queues(amqp_url, broker_prefix):
    topology = Topology(broker_prefix, ("spolis",))
    open_broker(amqp_url).declare(topology)
    with Connection(amqp_url) as connection:
        with pytest.raises(PreconditionFailed):
            Queue(topology.delivery_queue("spolis"), durable=True).bind(connection.channel()).declare()


def test_a_publisher_without_a_broker_says_so():  # nothing listens on port 1: no RabbitMQ needed
    publisher = AmqpPublisher("amqp://guest:guest@127.0.0.1:1//")
    with pytest.raises(BrokerUnavailable):
        publisher.start(timeout=1)
    future = publisher.publish([message("x", "y")])
    with pytest.raises(BrokerUnavailable):
        future.result(timeout=5)
    publisher.close()


@pytest.mark.rabbitmq
def test_declaring_and_publishing_fail_over_to_the_next_cluster_node(amqp_url, broker_prefix):
    """`HUB_BROKER_URL` may list cluster nodes separated by `;`: a node that is down is skipped."""
    nodes = f"amqp://guest:guest@127.0.0.1:1//;{amqp_url}"
    topology = Topology(broker_prefix, ("spolis",))
    open_broker(nodes).declare(topology, timeout=20)
    publisher = AmqpPublisher(nodes, backoff=Backoff(longest=0.5))
    publisher.start(timeout=20)
    try:
        publisher.publish([message(topology.delivery_exchange, "spolis", n) for n in range(10)]).result(timeout=30)
    finally:
        publisher.close()
    assert depth(nodes, topology.delivery_queue("spolis")) == 10
