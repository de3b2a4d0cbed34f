"""The hub's one consumer loop: manual acks, messages handed over in batches.

Each broker kind gives the loop a `Session` (one connection, one channel, one queue): pika's
blocking connection on RabbitMQ, kombu on the embedded broker. The session only moves frames;
batching, holding, pausing and acking are the loop's, the same for both.

The loop never acks by itself; the handler settles each message once its effect is done (or
moves it elsewhere first), and when the handler returns the loop acks what was settled: with one
frame for a whole batch where the broker can (a multiple ack), so the broker and the worker handle
one ack per batch, not one per message. Messages unacked when a connection drops go back to the queue
(at-least-once), which is why every target is called with an idempotency key. While `pause`
says so (an open circuit), the loop hands nothing over: what came stays unacked in the loop, the
prefetch window is full, and the rest waits in the broker; the first batch after the pause is the
probe. The consumer is never cancelled for a pause: a client cancelling hands back what is on
its way, and each message handed back counts a delivery. A batch is full when the records its
messages carry (a bundle carries several) reach the batch size.

A handler that fails in a way that passes (the database restarting, the publisher's broker
connection lost) leaves its unsettled messages held on the channel and is given them again after a
wait, handing nothing else over meanwhile: going back to the broker would count a delivery for each,
and after a few such blips a healthy message would be set aside as poison. Any other failure drops the
connection, and the broker hands the messages out again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from kombu import Queue

from hub import logs
from hub.broker.backoff import Backoff
from hub.broker.headers import RECORDS
from hub.errors import classify

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.5  # how long an idle loop waits for a message before it looks at stop and pause again
HOLD_FIRST_SECONDS = 0.5  # a held batch is handled again after this, doubling while it keeps failing
HOLD_LONGEST_SECONDS = 5.0


@dataclass(slots=True)
class Received:
    """A message taken from a queue, waiting for its handler to settle it."""

    body: bytes
    headers: dict[str, object]
    properties: dict[str, object]
    redelivered: bool
    tag: int  # the delivery tag, on the session's channel
    settled: bool = False

    def ack(self) -> None:
        """Its effect is done: the loop acks it when the handler returns."""
        self.settled = True


BatchHandler = Callable[[list[Received]], None]
Deliver = Callable[[Received], None]


class Session(Protocol):
    """A channel consuming one queue on its own connection, from `consume` until the connection closes;
    `deliver` is called with each message from within `drain`. Any broker error raises, and the loop
    connects again."""

    def consume(self) -> None: ...

    def drain(self, timeout: float) -> None:
        """Deliver what came, waiting up to `timeout` for something to come; keep the connection alive."""
        ...

    def ack(self, tag: int, *, multiple: bool) -> None: ...


class Source(Protocol):
    """What the loop needs of the broker (`hub.broker.Broker`): sessions, and whether one frame acks a batch."""

    @property
    def capabilities(self) -> Any: ...

    def consuming(
        self, queue: str, deliver: Deliver, *, prefetch: int, declare: Queue | None
    ) -> AbstractContextManager[Session]: ...


def _never_pause() -> float:
    return 0.0


class ConsumerLoop:
    def __init__(
        self,
        broker: Source,
        queue: str,
        handler: BatchHandler,
        *,
        prefetch: int,
        batch_size: int,
        flush_seconds: float,
        name: str,
        pause: Callable[[], float] = _never_pause,
        declare: Queue | None = None,
    ) -> None:
        """`declare`: a queue this loop owns and declares on every connection (an exclusive reply
        queue); otherwise the queue is the topology's and already exists."""
        self.broker = broker
        self.queue = queue
        self.handler = handler
        self.prefetch = max(prefetch, batch_size)
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.name = name
        self.pause = pause
        self.declare = declare
        self.connected = threading.Event()
        self._buffer: list[Received] = []
        self._records = 0  # carried by the messages in the buffer
        self._oldest = 0.0
        self._whole_batches = False  # a multiple ack, where the broker can
        self.backoff = Backoff()
        self._held: list[Received] = []  # a batch whose handler failed in a way that passes
        self._held_until = 0.0
        self._holds = 0  # in a row, for the wait before the next try
        self._session: Session | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._consume(stop)
            except Exception as exc:
                self.connected.clear()
                self._session = None
                self._buffer.clear()  # unacked: the broker hands them out again
                self._held.clear()
                self._records = 0
                if stop.is_set():
                    break
                delay = self.backoff.wait()
                log.warning(
                    "consumer lost its connection, reconnecting",
                    extra={"queue": self.queue, "error": f"{type(exc).__name__}: {exc}", "retry_in_s": round(delay, 2)},
                )
                stop.wait(delay)
        self.connected.clear()

    def _consume(self, stop: threading.Event) -> None:
        with self.broker.consuming(
            self.queue, self._on_message, prefetch=self.prefetch, declare=self.declare
        ) as session:
            self._session = session
            session.consume()
            self._whole_batches = self.broker.capabilities.multiple_ack  # a new channel: nothing unacked
            self.connected.set()
            self.backoff.connected()
            paused = False
            while not stop.is_set():
                if (self.pause() > 0) != paused:
                    paused = not paused
                    log.log(
                        logging.WARNING if paused else logging.INFO,
                        "consumer paused" if paused else "consumer resumed",
                        extra={"queue": self.queue},
                    )
                # a batch being filled waits at most its flush time; an idle or paused loop sleeps
                # longer (a message wakes it at once), so idle consumers cost no CPU
                session.drain(self.flush_seconds if self._buffer and not paused else IDLE_SECONDS)
                if self._held:
                    if time.monotonic() >= self._held_until:
                        self._handle(self._held)
                elif (
                    self._buffer
                    and not paused
                    and (self._records >= self.batch_size or time.monotonic() - self._oldest >= self.flush_seconds)
                ):
                    self._flush()
            if not self._held:
                self._flush()

    def _on_message(self, received: Received) -> None:
        if not self._buffer:
            self._oldest = time.monotonic()
        self._buffer.append(received)
        carried = received.headers.get(RECORDS)
        self._records += carried if isinstance(carried, int) and carried > 0 else 1
        if self._records >= self.batch_size and not self._held and self.pause() <= 0:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer, self._records = self._buffer, [], 0
        self._handle(batch)

    def _handle(self, batch: list[Received]) -> None:
        self._held = []
        try:
            with logs.handling(
                [str(r.properties.get("message_id") or "") for r in batch],
                [str(r.properties.get("correlation_id") or "") for r in batch],
            ):
                self.handler(batch)
            self._holds = 0
        except Exception as exc:
            error_class, permanent = classify(exc)
            if permanent:
                raise
            self._hold([r for r in batch if not r.settled], error_class, exc)
        finally:  # settled messages are acked even when the handler failed on a later one
            self._ack(batch)

    def _hold(self, unsettled: list[Received], error_class: str, exc: Exception) -> None:
        self._held = unsettled
        self._holds += 1
        wait = min(HOLD_FIRST_SECONDS * 2 ** (self._holds - 1), HOLD_LONGEST_SECONDS)
        self._held_until = time.monotonic() + wait
        first_line = (str(exc).splitlines() or [""])[0][:200]  # a driver's error goes on with its SQL
        log.warning(
            "batch held: its effects cannot be settled now; it is handled again without going back to the broker",
            extra={
                "queue": self.queue,
                "error_class": error_class,
                "error": f"{type(exc).__name__}: {first_line}",
                "messages": len(unsettled),
                "retry_in_s": wait,
            },
        )

    def _ack(self, batch: list[Received]) -> None:
        settled = [r for r in batch if r.settled]
        session = self._session
        assert session is not None  # acks happen inside `_consume`, on the session that delivered the batch
        if self._whole_batches and len(settled) == len(batch):
            session.ack(batch[-1].tag, multiple=True)  # every earlier delivery on this channel is settled too
            return
        self._whole_batches = False  # something stays unacked: from now on one ack per message
        for received in settled:
            session.ack(received.tag, multiple=False)
