"""RabbitMQ: the broker of every deployment.

Consumers use pika's blocking connection (`hub.broker.amqp_consumer`). The publisher is a pika
`SelectConnection` in its own I/O thread with publisher confirms pipelined: a batch of 1,000 records
costs one round of confirms, not 1,000 round trips (kombu only offers a blocking confirm per message).
Every publish is `mandatory`; a message the broker returns as unroutable fails its batch. A delayed
retry is published, keyed by its target, to the delay queue shared by every target, whose message TTL
dead-letters it back to the target's queue with that key (at-least-once, quorum queues).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property, partial

import pika
from kombu import Connection, Queue
from pika.adapters.select_connection import SelectConnection

from hub.broker.amqp_consumer import AmqpSessions
from hub.broker.backoff import Backoff
from hub.broker.broker import Broker, Capabilities, Delayer, Publisher
from hub.broker.consumer import Deliver, Session
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from hub.errors import BrokerUnavailable, Unroutable

log = logging.getLogger(__name__)


class RabbitBroker(Broker):
    capabilities = Capabilities(
        dead_lettering=True, delivery_limit=True, multiple_ack=True, quorum_queues=True, outlives_the_process=True
    )
    description = "RabbitMQ"
    reply_queue_arguments = {"x-queue-type": "classic"}

    @cached_property
    def _sessions(self) -> AmqpSessions:
        return AmqpSessions(pika_parameters(self.url, "hub-consumer"))

    @contextmanager
    def consuming(self, queue: str, deliver: Deliver, *, prefetch: int, declare: Queue | None) -> Iterator[Session]:
        """pika, not kombu (`hub.broker.amqp_consumer`)."""
        with self._sessions.consuming(queue, deliver, prefetch=prefetch, declare=declare) as session:
            yield session

    def publisher(self, topology: Topology, *, name: str = "hub-publisher") -> Publisher:
        return AmqpPublisher(self.url, name=name)

    def delayer(self, publisher: Publisher, topology: Topology) -> Delayer:
        return BrokerDelayer(publisher, topology)


class _Batch:
    __slots__ = ("future", "remaining")

    def __init__(self, future: Future[None], size: int) -> None:
        self.future = future
        self.remaining = size

    def ack(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


def pika_parameters(url: str, name: str) -> list[pika.ConnectionParameters]:
    """Read the URL the way kombu does (`amqp://h//` is vhost "/"), so publisher and consumers
    always meet on the same virtual host; `amqp://a//;amqp://b//` lists cluster nodes to fail over
    between, for both."""
    return [_node_parameters(node, name) for node in (Connection(url).alt or [url])]


def _node_parameters(url: str, name: str) -> pika.ConnectionParameters:
    info = Connection(url).info()
    parameters = pika.ConnectionParameters(
        host=info["hostname"] or "localhost",
        port=info["port"] or 5672,
        virtual_host=info["virtual_host"] or "/",
        credentials=pika.PlainCredentials(info["userid"] or "guest", info["password"] or "guest"),
        client_properties={"connection_name": name},
        heartbeat=30,
        connection_attempts=1,
        socket_timeout=5,
    )
    if info.get("ssl"):
        import ssl

        parameters.ssl_options = pika.SSLOptions(ssl.create_default_context(), info["hostname"])
    return parameters


class AmqpPublisher:
    def __init__(self, url: str, *, name: str = "hub-publisher", backoff: Backoff | None = None) -> None:
        self._nodes = itertools.cycle(pika_parameters(url, name))
        self._name = name
        self._backoff = backoff or Backoff()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self._open_batches: set[_Batch] = set()
        self._connection: SelectConnection | None = None
        self._channel: pika.channel.Channel | None = None
        self._next_tag = 0
        self._pending: OrderedDict[int, tuple[_Batch, str]] = OrderedDict()
        self._returned: dict[str, str] = {}

    # -- called from any thread ------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise BrokerUnavailable(f"no broker connection within {timeout:.0f} s")

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def publish(self, messages: Sequence[OutgoingMessage]) -> Future[None]:
        future: Future[None] = Future()
        if not messages:
            future.set_result(None)
            return future
        connection = self._connection
        if not self._ready.is_set() or connection is None:
            future.set_exception(BrokerUnavailable("the broker connection is down"))
            return future
        batch = _Batch(future, len(messages))
        with self._lock:
            self._open_batches.add(batch)
        future.add_done_callback(lambda _: self._forget(batch))
        try:
            connection.ioloop.add_callback_threadsafe(partial(self._publish_batch, messages, batch))
        except Exception as exc:  # the I/O loop is closing under us
            batch.fail(BrokerUnavailable(f"the broker connection is closing: {exc}"))
        return future

    def close(self) -> None:
        self._stopping = True
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._close_connection)
            except Exception:
                pass
        if self._thread.ident is not None:  # a publisher whose start failed has nothing to wait for
            self._thread.join(timeout=5)

    def _forget(self, batch: _Batch) -> None:
        with self._lock:
            self._open_batches.discard(batch)

    def _fail_open_batches(self, exc: BaseException) -> None:
        with self._lock:
            batches = list(self._open_batches)
        for batch in batches:
            batch.fail(exc)

    # -- the I/O thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            self._connection = SelectConnection(
                next(self._nodes),
                on_open_callback=self._on_connection_open,
                on_open_error_callback=self._on_connection_error,
                on_close_callback=self._on_connection_closed,
            )
            self._connection.ioloop.start()
            if self._stopping:
                break
            time.sleep(self._backoff.wait())

    def _on_connection_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_error(self, connection: SelectConnection, error: BaseException) -> None:
        log.warning("publisher cannot reach the broker", extra={"error": str(error)})
        connection.ioloop.stop()

    def _on_connection_closed(self, connection: SelectConnection, reason: BaseException) -> None:
        self._ready.clear()
        self._channel = None
        self._drop_pending(BrokerUnavailable(f"broker connection lost: {reason}"))
        self._fail_open_batches(BrokerUnavailable(f"broker connection lost: {reason}"))
        if not self._stopping:
            log.warning("publisher lost the broker connection", extra={"error": str(reason)})
        connection.ioloop.stop()

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        self._channel = channel
        self._next_tag = 0
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirming)

    def _on_confirming(self, _frame: object) -> None:
        self._ready.set()
        self._backoff.connected()

    def _on_channel_closed(self, channel: pika.channel.Channel, reason: BaseException) -> None:
        self._ready.clear()
        self._channel = None
        error: Exception
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker) and reason.reply_code == 404:
            error = Unroutable(f"broker refused the publish: {reason.reply_text}")
        else:
            error = BrokerUnavailable(f"broker channel closed: {reason}")
        self._drop_pending(error)
        self._fail_open_batches(error)
        connection = self._connection
        if connection is not None and connection.is_open and not self._stopping:
            connection.channel(on_open_callback=self._on_channel_open)

    def _publish_batch(self, messages: Sequence[OutgoingMessage], batch: _Batch) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            batch.fail(BrokerUnavailable("the broker channel is down"))
            return
        for message in messages:
            properties = pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                type=message.type,
                timestamp=message.timestamp,
                app_id="welfare-hub",
                headers=message.headers,
                reply_to=message.reply_to,
                expiration=str(message.expiration_ms) if message.expiration_ms is not None else None,
            )
            try:
                channel.basic_publish(message.exchange, message.routing_key, message.body, properties, mandatory=True)
            except Exception as exc:
                batch.fail(BrokerUnavailable(f"publish failed: {exc}"))
                return
            self._next_tag += 1
            self._pending[self._next_tag] = (batch, message.message_id)

    def _on_return(self, channel, method, properties, body) -> None:  # type: ignore[no-untyped-def]
        self._returned[properties.message_id] = (
            f"unroutable: exchange {method.exchange!r} routing key {method.routing_key!r} ({method.reply_text})"
        )

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        positive = isinstance(method, pika.spec.Basic.Ack)
        if method.multiple:
            while self._pending:
                tag = next(iter(self._pending))
                if tag > method.delivery_tag:
                    break
                self._settle(*self._pending.pop(tag), positive)
        else:
            entry = self._pending.pop(method.delivery_tag, None)
            if entry is not None:
                self._settle(*entry, positive)

    def _settle(self, batch: _Batch, message_id: str, positive: bool) -> None:
        returned = self._returned.pop(message_id, None)
        if returned is not None:
            batch.fail(Unroutable(returned))
        elif not positive:
            batch.fail(BrokerUnavailable("the broker refused to store the message (nack)"))
        else:
            batch.ack()

    def _drop_pending(self, error: BaseException) -> None:
        for batch, _ in self._pending.values():
            batch.fail(error)
        self._pending.clear()
        self._returned.clear()

    def _close_connection(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        elif self._connection is not None:
            self._connection.ioloop.stop()


class BrokerDelayer:
    def __init__(self, publisher: Publisher, topology: Topology) -> None:
        self.publisher = publisher
        self.topology = topology

    def schedule(self, target: str, delay: float, messages: Sequence[OutgoingMessage]) -> Future[None]:
        """Refuse an unknown target here: the fanout exchange would accept it, and the message would
        be stuck in the delay queue when its dead-lettering finds no queue to go to."""
        if target not in self.topology.targets:
            refused: Future[None] = Future()
            refused.set_exception(Unroutable(f"unroutable: {target!r} is not a delivery target"))
            return refused
        exchange = self.topology.retry_exchange(delay)
        return self.publisher.publish([replace(m, exchange=exchange, routing_key=target) for m in messages])

    def close(self) -> None:
        pass
