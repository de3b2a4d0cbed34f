"""The consumer loop's session on RabbitMQ: pika's blocking connection, one channel, one queue.

pika reads the socket in large chunks and hands each delivery over as it parses it, where kombu on
py-amqp reads every frame with calls of its own: consuming is paid for every record a worker
delivers, so it is done with the lighter of the two. The broker's cancel notification (the queue
deleted, its leader lost) raises, and the loop connects again, to the next node first.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pika
from kombu import Queue
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ConsumerCancelled

from hub.broker.consumer import Deliver, Received

_PROPERTIES = ("message_id", "correlation_id", "type", "timestamp", "reply_to", "expiration", "app_id", "content_type")


class AmqpSessions:
    """Opens sessions on a broker's nodes, each attempt starting from the node after the last one tried."""

    def __init__(self, nodes: Sequence[pika.ConnectionParameters]) -> None:
        self.nodes = list(nodes)
        self._attempts = itertools.count()

    @contextmanager
    def consuming(self, queue: str, deliver: Deliver, *, prefetch: int, declare: Queue | None) -> Iterator[AmqpSession]:
        first = next(self._attempts) % len(self.nodes)
        connection = pika.BlockingConnection(self.nodes[first:] + self.nodes[:first])
        try:
            yield AmqpSession(connection, queue, deliver, prefetch, declare)
        finally:
            if connection.is_open:
                try:
                    connection.close()
                except Exception:  # lost while closing: nothing is left to close
                    pass


class AmqpSession:
    def __init__(
        self,
        connection: pika.BlockingConnection,
        queue: str,
        deliver: Deliver,
        prefetch: int,
        declare: Queue | None,
    ) -> None:
        self.connection = connection
        self.channel: BlockingChannel = connection.channel()
        self.channel.basic_qos(prefetch_count=prefetch)
        if declare is not None:
            self.channel.queue_declare(
                declare.name,
                durable=bool(declare.durable),
                exclusive=bool(declare.exclusive),
                auto_delete=bool(declare.auto_delete),
                arguments=declare.queue_arguments or None,
            )
        self.channel.add_on_cancel_callback(self._on_cancel)
        self.queue = queue
        self.deliver = deliver
        self._cancelled = False

    def _on_message(
        self,
        _channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        self.deliver(
            Received(
                body=body,
                headers=properties.headers or {},
                properties={n: v for n in _PROPERTIES if (v := getattr(properties, n)) is not None},
                redelivered=bool(method.redelivered),
                tag=method.delivery_tag,
            )
        )

    def _on_cancel(self, _frame: object) -> None:
        self._cancelled = True

    def consume(self) -> None:
        self.channel.basic_consume(self.queue, self._on_message)

    def drain(self, timeout: float) -> None:
        self.connection.process_data_events(time_limit=timeout)
        if self._cancelled:
            raise ConsumerCancelled(f"the broker cancelled the consumer of {self.queue}")

    def ack(self, tag: int, *, multiple: bool) -> None:
        self.channel.basic_ack(tag, multiple=multiple)
