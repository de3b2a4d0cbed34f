"""The embedded broker: kombu's in-memory transport, for the demo and the tests. The same exchange and
queue names as on RabbitMQ, in one process only. The transport never returns an unroutable message, so
the publisher checks routing against the declared topology; it has no dead-lettering, so delayed
retries wait in this process and are republished when due (and are lost with it, as everything here).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace

from kombu import Connection, Producer
from kombu.transport import memory

from hub.broker.broker import Broker, Capabilities, Delayer, Publisher
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from hub.errors import BrokerUnavailable, Unroutable

log = logging.getLogger(__name__)


class EmbeddedBroker(Broker):
    capabilities = Capabilities(
        dead_lettering=False, delivery_limit=False, multiple_ack=False, quorum_queues=False, outlives_the_process=False
    )
    description = "embedded (memory://)"
    transport_options = {"polling_interval": 0.01}

    def publisher(self, topology: Topology, *, name: str = "hub-publisher") -> Publisher:
        return MemoryPublisher(self.url, topology)

    def delayer(self, publisher: Publisher, topology: Topology) -> Delayer:
        return InProcessDelayer(publisher, topology)


class MemoryPublisher:
    """kombu's in-memory transport: same exchange and queue names, one process only."""

    def __init__(self, url: str, topology: Topology) -> None:
        self._connection = Connection(url)
        self._routes = topology.bound_routes()
        self._lock = threading.Lock()
        self._producer: Producer | None = None

    def start(self, timeout: float = 10.0) -> None:
        self._producer = Producer(self._connection.channel())

    @property
    def connected(self) -> bool:
        return self._producer is not None

    def publish(self, messages: Sequence[OutgoingMessage]) -> Future[None]:
        future: Future[None] = Future()
        try:
            for message in messages:
                if not self._routable(message):
                    raise Unroutable(f"unroutable: exchange {message.exchange!r} routing key {message.routing_key!r}")
            with self._lock:
                producer = self._producer
                if producer is None:
                    raise BrokerUnavailable("publisher not started")
                for message in messages:
                    producer.publish(
                        message.body,
                        exchange=message.exchange,
                        routing_key=message.routing_key,
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        headers=dict(message.headers),
                        message_id=message.message_id,
                        correlation_id=message.correlation_id,
                        type=message.type,
                        timestamp=message.timestamp,
                        **({"reply_to": message.reply_to} if message.reply_to else {}),
                        **({"expiration": message.expiration_ms / 1000} if message.expiration_ms else {}),
                    )
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)
        return future

    def _routable(self, message: OutgoingMessage) -> bool:
        if message.exchange == "":  # the default exchange: straight to a queue by name (query replies)
            return message.routing_key in memory.Channel.queues
        return (message.exchange, message.routing_key) in self._routes

    def close(self) -> None:
        self._producer = None
        self._connection.release()


class InProcessDelayer:
    def __init__(self, publisher: Publisher, topology: Topology) -> None:
        self.publisher = publisher
        self.topology = topology
        self._heap: list[tuple[float, int, list[OutgoingMessage]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="delayer", daemon=True)
        self._thread.start()

    def schedule(self, target: str, delay: float, messages: Sequence[OutgoingMessage]) -> Future[None]:
        exchange = self.topology.delivery_exchange
        batch = [replace(m, exchange=exchange, routing_key=target) for m in messages]
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), batch))
            self._wake.notify()
        future: Future[None] = Future()
        future.set_result(None)
        return future

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._wake.wait(timeout=(self._heap[0][0] - time.monotonic()) if self._heap else None)
                if self._stopping:
                    return
                _, _, batch = heapq.heappop(self._heap)
            try:
                self.publisher.publish(batch).result(timeout=30)
            except Exception as exc:
                log.error(
                    "delayed messages could not be republished",
                    extra={"error": str(exc), "count": len(batch), "message_ids": [m.message_id for m in batch]},
                )
                with self._wake:
                    heapq.heappush(self._heap, (time.monotonic() + 1.0, next(self._order), batch))

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=5)
