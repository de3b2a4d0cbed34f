"""Answering per-person queries: a query from the queue, the state system asked, the answer sent to
the caller's reply queue.

Queries are at-most-once: each is acked when taken, because a caller that waited in vain has its
deadline Fault and asks again; repeating a query after that would only ask the state system twice.
A query whose deadline already passed is not asked at all. An open circuit answers at once.

A fixed set of threads asks, each taking the next query from the consumer; the reply is handed to
the publisher without waiting for the broker's confirm, so a thread is free for the next query as
soon as the state system answered (a reply the broker could not route is counted when it says so).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

import orjson

from hub import logs, metrics
from hub.broker.broker import Publisher
from hub.broker.codec import BrokerCodec
from hub.broker.consumer import Received
from hub.broker.headers import DEADLINE
from hub.broker.message import OutgoingMessage
from hub.delivery.calls import timed
from hub.delivery.circuit import CircuitBreaker
from hub.errors import TargetUnavailable, Unroutable, classify
from hub.systems import QueryTarget

log = logging.getLogger(__name__)


class QueryWorker:
    def __init__(
        self,
        *,
        target_name: str,
        target: QueryTarget,
        publisher: Publisher,
        breaker: CircuitBreaker,
        concurrency: int,
        codec: BrokerCodec,
    ) -> None:
        self.target_name = target_name
        self.target = target
        self.publisher = publisher
        self.breaker = breaker
        self.codec = codec
        self._slots = threading.BoundedSemaphore(concurrency)
        self._taken: queue.SimpleQueue[Received | None] = queue.SimpleQueue()
        self._askers = [
            threading.Thread(target=self._serve, name=f"query-{target_name}-{n}", daemon=True)
            for n in range(concurrency)
        ]
        for asker in self._askers:
            asker.start()

    def handle(self, batch: list[Received]) -> None:
        for received in batch:
            received.ack()
            deadline = int(received.headers.get(DEADLINE) or 0)
            if deadline and deadline < time.time() * 1000:
                metrics.query_expired.labels(self.target_name).inc()
                continue
            self._slots.acquire()  # blocks the consumer when every slot is busy: the broker holds the rest
            self._taken.put(received)

    def _serve(self) -> None:
        while (received := self._taken.get()) is not None:
            self._answer(received)

    def _answer(self, received: Received) -> None:
        reply_to = str(received.properties.get("reply_to") or "")
        query_id = str(received.properties.get("message_id") or "")
        try:
            with logs.handling(query_id, str(received.properties.get("correlation_id") or "") or None):
                if reply_to:
                    self._reply(reply_to, query_id, self._ask(received.body))
        except Exception:
            log.exception("a query could not be answered", extra={"target": self.target_name, "message_id": query_id})
        finally:
            self._slots.release()

    def _ask(self, body: bytes) -> dict[str, object]:
        try:
            envelope = self.codec.envelope(body)
            if not self.breaker.allow():
                raise TargetUnavailable(f"{self.target_name} is not being called: its circuit is open")
            try:
                answer = timed(self.target_name, lambda: self.target.answer(envelope))
            except Exception as exc:
                error_class, permanent = classify(exc)
                if not permanent:
                    self.breaker.failure(f"{error_class}: {logs.short(str(exc))}")
                raise
            self.breaker.success()
            return {"ok": True, "answer": answer.model_dump(mode="json")}
        except Exception as exc:
            error_class, permanent = classify(exc)
            if error_class == "internal":
                log.exception("query failed", extra={"target": self.target_name})
            return {"ok": False, "error_class": error_class, "message": str(exc)[:500], "retry": not permanent}

    def _reply(self, reply_to: str, query_id: str, reply: dict[str, object]) -> None:
        message = OutgoingMessage(
            exchange="",
            routing_key=reply_to,
            body=self.codec.seal(orjson.dumps(reply)),
            message_id=query_id,
            correlation_id=query_id,
            type="hub.query.reply",
            timestamp=int(time.time()),
        )
        self.publisher.publish([message]).add_done_callback(self._published)

    def _published(self, future: Future[None]) -> None:
        error = future.exception()
        if isinstance(error, Unroutable):
            metrics.query_late_replies.inc()  # the caller's gateway is gone
        elif error is not None:
            log.warning("a query's answer was not sent", extra={"target": self.target_name, "error": str(error)})

    def close(self) -> None:
        """Queries taken but not yet begun are dropped (their callers get their deadline Fault); those
        being asked finish."""
        while True:
            try:
                dropped = self._taken.get_nowait()
            except queue.Empty:
                break
            if dropped is not None:
                self._slots.release()
        for _ in self._askers:
            self._taken.put(None)
        for asker in self._askers:
            asker.join()
