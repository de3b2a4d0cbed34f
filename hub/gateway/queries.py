"""Per-person queries at the gateway: publish the query with a reply address and a deadline, wait
for the answer, answer the caller in SOAP, and record who asked what about whom.

The audit entry names the end user, the purpose, the systems, the service and the outcome; the
person appears only as a pseudonym (keyed hash), as the law requires a record but not a copy. A
caller is answered only once its entry is committed. One thread writes the entries, each batch of
those waiting in one transaction, so that callers at once share a commit instead of queueing for
the trail's lock one by one.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from functools import partial

import orjson
from lxml import etree

from hub import metrics
from hub.broker.broker import Publisher
from hub.broker.codec import BrokerCodec
from hub.broker.headers import DEADLINE
from hub.broker.replies import ReplyListener
from hub.broker.topology import Topology
from hub.canonical import QUERY_TYPES
from hub.errors import BrokerUnavailable, DeadlineExceeded, RemoteError, classify
from hub.gateway.reader import Query
from hub.store.audit import AuditLog, Note

log = logging.getLogger(__name__)

AUDIT_BATCH = 500  # entries at most in one transaction


class QueryDesk:
    def __init__(
        self,
        *,
        publisher: Publisher,
        replies: ReplyListener,
        topology: Topology,
        audit: AuditLog,
        pseudonymize: Callable[[str], str],
        publish_timeout: float,
        codec: BrokerCodec,
    ) -> None:
        self.publisher = publisher
        self.replies = replies
        self.topology = topology
        self.trail = QueryTrail(audit, pseudonymize)
        self.publish_timeout = publish_timeout
        self.codec = codec

    async def ask(self, query: Query) -> etree._Element:
        envelope = query.envelope
        started = time.perf_counter()
        deadline_at = time.time() + query.deadline_seconds
        message = replace(
            self.codec.message(
                envelope, self.topology.query_exchange, envelope.target, {DEADLINE: int(deadline_at * 1000)}
            ),
            reply_to=self.replies.queue,
            expiration_ms=int(query.deadline_seconds * 1000),
        )
        query_id = str(envelope.message_id)
        waiting = self.replies.expect(query_id)
        outcome = "answered"
        try:
            published = self.publisher.publish([message])
            published.add_done_callback(partial(_refused, asyncio.get_running_loop(), waiting))
            body = await self._answer(published, waiting, deadline_at, query)
            reply = orjson.loads(self.codec.open(body))
            if not reply.get("ok"):
                raise RemoteError(
                    str(reply.get("message")),
                    error_class=str(reply.get("error_class")),
                    permanent=not reply.get("retry"),
                )
            answer = QUERY_TYPES[envelope.type].ANSWER.model_validate(reply["answer"])
            assert query.service.answer_to_xml is not None
            return query.service.answer_to_xml(answer)
        except Exception as exc:
            outcome = classify(exc)[0]
            raise
        finally:
            self.replies.forget(query_id)
            waiting.cancel()  # done already, or abandoned: a later failure of the publish has nobody to tell
            elapsed = time.perf_counter() - started
            metrics.query_duration.labels(
                envelope.flow, envelope.source, envelope.target, envelope.type, outcome
            ).observe(elapsed)
            await self.trail.record(query, outcome, elapsed)

    async def _answer(
        self, published: Future[None], waiting: asyncio.Future[bytes], deadline_at: float, query: Query
    ) -> bytes:
        """The answer, once it came. The broker's confirm is not awaited: an answer can only come for
        a query the broker took, so the confirm reaches the caller's loop only when it fails (it then
        fails `waiting`), and is looked at here only when no answer came within the publish timeout."""
        publish_by = min(deadline_at, time.time() + self.publish_timeout)
        for until in (publish_by, deadline_at):
            await asyncio.wait({waiting}, timeout=max(until - time.time(), 0))
            if waiting.done():
                return waiting.result()  # raises when the broker refused or lost the query
            if not published.done():
                raise BrokerUnavailable("the broker did not take the query in time")
        raise DeadlineExceeded(f"{query.envelope.target} gave no answer within {query.deadline_seconds:g} s")


def _refused(loop: asyncio.AbstractEventLoop, waiting: asyncio.Future[bytes], published: Future[None]) -> None:
    """On the publisher's thread: a query the broker did not take fails its caller at once."""
    error = published.exception()
    if error is not None:
        try:
            loop.call_soon_threadsafe(_fail, waiting, error)
        except RuntimeError:
            pass  # its loop closed: nobody waits any more


def _fail(waiting: asyncio.Future[bytes], error: BaseException) -> None:
    if not waiting.done():
        waiting.set_exception(error)


class QueryTrail:
    """The audit entries of the queries, appended by one thread in batches."""

    def __init__(self, audit: AuditLog, pseudonymize: Callable[[str], str]) -> None:
        self.audit = audit
        self.pseudonymize = pseudonymize
        self._waiting: queue.SimpleQueue[tuple[Note, asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            queue.SimpleQueue()
        )
        self._writer: threading.Thread | None = None
        self._starting = threading.Lock()

    def record(self, query: Query, outcome: str, elapsed: float) -> asyncio.Future[None]:
        """Done once the entry is committed; raises what the append raised."""
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()
        self._waiting.put((self._note(query, outcome, elapsed), loop, committed))
        if self._writer is None:
            self._start()
        return committed

    def _note(self, query: Query, outcome: str, elapsed: float) -> Note:
        envelope, header = query.envelope, query.header
        return Note(
            operator=header.user_id,
            action="query",
            subject=f"{envelope.source}->{envelope.target} {envelope.type}",
            reason=header.purpose or "",
            details={
                "person": self.pseudonymize(str(envelope.payload["person_code"])),
                "outcome": outcome,
                "ms": round(elapsed * 1000, 1),
                "query_id": str(envelope.message_id),
                "request_id": str(header.message_id),
                "issue": header.issue,
            },
        )

    def _start(self) -> None:
        with self._starting:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="query-audit", daemon=True)
                self._writer.start()

    def _write(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < AUDIT_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            error: Exception | None = None
            try:
                self.audit.record_many([note for note, _, _ in batch])
            except Exception as exc:
                log.exception("query audit entries not written", extra={"entries": len(batch)})
                error = exc
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, loop, committed in batch:
                by_loop.setdefault(loop, []).append(committed)
            for loop, futures in by_loop.items():  # one wake-up of each loop for its whole batch
                try:
                    loop.call_soon_threadsafe(_settle, futures, error)
                except RuntimeError:
                    pass  # its loop closed: nobody waits for these entries any more, and they are written


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for committed in futures:
        if committed.done():
            continue
        if error is None:
            committed.set_result(None)
        else:
            committed.set_exception(error)
