"""Answers to per-person queries, back to the caller that waits for them.

Each gateway process consumes its own exclusive reply queue; a query carries that queue as
`reply_to` and its message id as the correlation. An answer nobody waits for any more (the
deadline passed) is counted and dropped: it never reaches another caller.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid

from hub import metrics
from hub.broker.broker import Broker
from hub.broker.consumer import ConsumerLoop, Received

log = logging.getLogger(__name__)


class ReplyListener:
    def __init__(self, broker: Broker, prefix: str) -> None:
        self.queue = f"{prefix}.reply.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[bytes]]] = {}
        self._lock = threading.Lock()
        self.loop = ConsumerLoop(
            broker,
            self.queue,
            self._handle,
            prefetch=500,
            batch_size=1,
            flush_seconds=0.005,
            name="replies",
            declare=broker.reply_queue(self.queue),
        )

    def expect(self, correlation_id: str) -> asyncio.Future[bytes]:
        """Call from the event loop that will await the answer."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        with self._lock:
            self._waiting[correlation_id] = (loop, future)
        return future

    def forget(self, correlation_id: str) -> None:
        with self._lock:
            self._waiting.pop(correlation_id, None)

    def _handle(self, batch: list[Received]) -> None:
        for received in batch:
            correlation_id = str(received.properties.get("correlation_id") or "")
            with self._lock:
                waiting = self._waiting.pop(correlation_id, None)
            if waiting is None:
                metrics.query_late_replies.inc()
                log.info("an answer came after its caller stopped waiting", extra={"correlation_id": correlation_id})
            else:
                loop, future = waiting
                loop.call_soon_threadsafe(_resolve, future, received.body)
            received.ack()


def _resolve(future: asyncio.Future[bytes], body: bytes) -> None:
    if not future.done():
        future.set_result(body)
