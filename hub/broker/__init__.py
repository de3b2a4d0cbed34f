"""The broker as one object (`Broker`: RabbitMQ or the embedded one, with what each can do), and the
pieces the hub uses on it: topology, publisher, delayer, the one consumer loop, reply queues, the
codec that seals what travels, and the hub's headers."""

from hub.broker.broker import Broker
from hub.broker.embedded import EmbeddedBroker
from hub.broker.rabbit import RabbitBroker


def open_broker(url: str) -> Broker:
    """`memory://` is the embedded broker; anything else is RabbitMQ (`amqp://`, `amqps://`, and a
    `;`-separated list of cluster nodes)."""
    return EmbeddedBroker(url) if url.startswith("memory://") else RabbitBroker(url)


__all__ = ["Broker", "open_broker"]
