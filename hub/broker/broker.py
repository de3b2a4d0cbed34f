"""The broker the hub runs on, as one object: what it can do, and the pieces the hub uses on it.

RabbitMQ in production (`RabbitBroker`); kombu's in-memory transport as the embedded broker of the
demo and the tests (`EmbeddedBroker`), which lives in one process and lacks what RabbitMQ does for
the hub: no dead-lettering (delayed retries wait in the process), no delivery limit (no poison
message is set aside), one ack per message. `Capabilities` says so, instead of each piece testing the
broker's URL; `hub.broker.open_broker` is the one place that reads it.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from amqp.exceptions import PreconditionFailed
from kombu import Connection, Consumer, Queue
from kombu.message import Message

from hub.broker.consumer import Deliver, Received, Session
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from hub.errors import BrokerUnavailable

log = logging.getLogger(__name__)
COMMAND_WAIT_SECONDS = 5.0  # a command that needs the broker says it is away this soon; `hub serve` waits longer


@dataclass(frozen=True)
class Capabilities:
    dead_lettering: bool  # the broker moves expired and poison messages: retries wait in its queues
    delivery_limit: bool  # a message delivered too often without an ack is dead-lettered as poison
    multiple_ack: bool  # one frame settles every delivery up to a tag
    quorum_queues: bool  # replicated, durable queues with at-least-once dead-lettering
    outlives_the_process: bool  # messages survive the hub's processes


class Publisher(Protocol):
    def start(self, timeout: float = 10.0) -> None: ...

    def publish(self, messages: Sequence[OutgoingMessage]) -> Future[None]:
        """Resolves when the broker confirmed every message; fails if any was nacked or unroutable."""
        ...

    @property
    def connected(self) -> bool: ...

    def close(self) -> None: ...


class Delayer(Protocol):
    def schedule(self, target: str, delay: float, messages: Sequence[OutgoingMessage]) -> Future[None]:
        """Resolves once the messages are safely waiting; they reach the target's queue after `delay`."""
        ...

    def close(self) -> None: ...


class Broker(ABC):
    capabilities: ClassVar[Capabilities]
    description: ClassVar[str]
    transport_options: ClassVar[dict[str, Any]] = {}
    reply_queue_arguments: ClassVar[dict[str, Any]] = {}

    def __init__(self, url: str) -> None:
        self.url = url

    def connection(self, **options: Any) -> Connection:
        """A kombu connection (for consumers and declarations); not thread-safe: one per thread."""
        return Connection(self.url, transport_options=self.transport_options, **options)

    def backlog(self, queues: Sequence[str]) -> dict[str, int]:
        """Messages ready in each queue that exists, by passive declares: what the console shows beside
        the store's figures. Raises when the broker does not answer."""
        found: dict[str, int] = {}
        with self.connection(connect_timeout=COMMAND_WAIT_SECONDS) as connection:
            channel = connection.channel()
            for name in queues:
                try:
                    found[name] = channel.queue_declare(name, passive=True).message_count
                except connection.channel_errors:  # no such queue: the broker closed the channel
                    channel = connection.channel()
        return found

    @contextmanager
    def consuming(self, queue: str, deliver: Deliver, *, prefetch: int, declare: Queue | None) -> Iterator[Session]:
        """A consumer loop's session: kombu here (the embedded broker); RabbitMQ has its own."""
        with self.connection(heartbeat=30) as connection:
            connection.ensure_connection(max_retries=1)
            source = declare if declare is not None else Queue(queue, no_declare=True)
            yield KombuSession(connection, source, prefetch, deliver)

    @abstractmethod
    def publisher(self, topology: Topology, *, name: str = "hub-publisher") -> Publisher: ...

    @abstractmethod
    def delayer(self, publisher: Publisher, topology: Topology) -> Delayer: ...

    def reply_queue(self, name: str) -> Queue:
        """A gateway process's own queue for the answers to its queries: gone with the process."""
        return Queue(name, exclusive=True, auto_delete=True, durable=False, queue_arguments=self.reply_queue_arguments)

    def check(self, timeout: float = COMMAND_WAIT_SECONDS) -> None:
        """Raise BrokerUnavailable unless the broker takes a connection within about `timeout` seconds: a
        command that needs it says so at once, where a starting process waits for it longer."""
        try:
            with self.connection(connect_timeout=timeout) as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        except Exception as exc:
            raise BrokerUnavailable(f"the broker does not answer: {exc}") from exc

    def declare(self, topology: Topology, *, timeout: float = 30.0) -> None:
        """Declare every exchange and queue, waiting up to `timeout` for the broker to answer."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connection(connect_timeout=5) as connection:
                    connection.ensure_connection(max_retries=1)
                    channel = connection.channel()
                    try:
                        for queue in topology.queues(quorum=self.capabilities.quorum_queues):
                            queue.bind(channel).declare()
                    finally:
                        channel.close()
                    return
            except PreconditionFailed as exc:
                raise BrokerUnavailable(
                    f"{exc}: a queue of that name exists with other arguments (an older hub version or another "
                    "deployment); drain and delete it, or choose another HUB_BROKER_PREFIX"
                ) from None
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(f"cannot declare the broker topology: {exc}") from exc
                time.sleep(1.0)

    def delete(self, topology: Topology) -> None:
        """Remove a topology's queues and exchanges (the demo's own, after it ran)."""
        with self.connection(connect_timeout=5) as connection:
            for delete, names in (
                ("queue_delete", topology.all_queue_names()),
                ("exchange_delete", topology.exchanges),
            ):
                for name in names:
                    channel = connection.channel()
                    try:
                        getattr(channel, delete)(name)
                    except Exception:  # never declared (no query targets), or already gone
                        pass
                    finally:
                        channel.close()


class KombuSession:
    """A consuming channel on a kombu connection."""

    def __init__(self, connection: Connection, queue: Queue, prefetch: int, deliver: Deliver) -> None:
        self.connection = connection
        self.channel = connection.channel()
        self.channel.basic_qos(0, prefetch, False)
        self.consumer = Consumer(self.channel, queues=[queue], on_message=self._on_message)
        self.deliver = deliver

    def _on_message(self, message: Message) -> None:
        self.deliver(
            Received(
                body=message.body,
                headers=message.headers or {},
                properties=message.properties or {},
                redelivered=bool(message.delivery_info.get("redelivered")),
                tag=message.delivery_tag,
            )
        )

    def consume(self) -> None:
        self.consumer.consume()

    def drain(self, timeout: float) -> None:
        try:
            self.connection.drain_events(timeout=timeout)
        except TimeoutError:
            pass
        self.connection.heartbeat_check()

    def ack(self, tag: int, *, multiple: bool) -> None:
        self.channel.basic_ack(tag, multiple=multiple)
