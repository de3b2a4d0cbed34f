"""Delayed redelivery: a message waits out its retry delay outside the worker, then returns to its
target's delivery queue.

On RabbitMQ it is published to the retry queue for that delay, whose message TTL dead-letters it
back (at-least-once). kombu's memory transport has no dead-lettering, so on the embedded broker
the hub holds delayed messages in-process and republishes them when due.
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
from typing import Protocol

from hub.broker.message import OutgoingMessage
from hub.broker.publisher import Publisher
from hub.broker.topology import Topology

log = logging.getLogger(__name__)


class Delayer(Protocol):
    def schedule(self, target: str, delay: float, messages: Sequence[OutgoingMessage]) -> Future[None]:
        """Resolves once the messages are safely waiting; they reach the target's queue after `delay`."""
        ...

    def close(self) -> None: ...


class BrokerDelayer:
    def __init__(self, publisher: Publisher, topology: Topology) -> None:
        self.publisher = publisher
        self.topology = topology

    def schedule(self, target: str, delay: float, messages: Sequence[OutgoingMessage]) -> Future[None]:
        exchange, key = self.topology.retry_exchange, self.topology.retry_key(target, delay)
        return self.publisher.publish([replace(m, exchange=exchange, routing_key=key) for m in messages])

    def close(self) -> None:
        pass


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


def create_delayer(url: str, publisher: Publisher, topology: Topology) -> Delayer:
    if url.startswith("memory://"):
        return InProcessDelayer(publisher, topology)
    return BrokerDelayer(publisher, topology)
