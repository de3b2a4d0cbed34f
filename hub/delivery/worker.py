"""Delivery to one target: a batch from the queue in, each message settled by its outcome.

Every message is acked only after its effect is done:

- delivered: the target confirmed it (or the hub already had it delivered: its own dedupe);
- retry: the target failed in a way that may pass (timeout, 5xx, Server fault) after the quick
  in-process retries; the message waits out the route's next delay outside the worker;
- failed for good: refused by the target, not valid, or out of attempts or age; it is in the
  failed-message store with its reason and history.

An open circuit sends messages back to wait and pauses consuming, so nobody calls a target that
is down. If settling fails (broker or database gone), nothing is acked and the broker hands the
messages out again.

A bundle (a load's records for this target in one message) is acked once every record in it is
settled; until then a crash hands the whole bundle out again, and the records already delivered
are recognised by their status and not sent twice. A record that comes twice in one batch (a
bundle published again, a redelivery beside its retry) is sent once; its copies are settled when
the batch is, the effect held by the first copy's message until then.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from hub import logs, metrics
from hub.broker.broker import Delayer
from hub.broker.codec import BrokerCodec
from hub.broker.consumer import Received
from hub.broker.headers import ATTEMPT, HISTORY, HISTORY_KEPT, REPLAYS, carried
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from hub.delivery.calls import timed
from hub.delivery.circuit import CircuitBreaker, State
from hub.envelope import Envelope, utcnow
from hub.errors import MalformedMessage, TargetRejected, TargetUnavailable, classify
from hub.rules.policies import RetryPolicy
from hub.rules.routing import Router
from hub.store.failed import Attempt, FailedStore, Failure
from hub.store.message_log import MessageLog
from hub.store.status import StatusStore
from hub.systems import DeliveryResult, DeliveryTarget

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_SECONDS = 30.0


class _Countdown:
    """Acks a bundle's message when the last of its records is settled."""

    __slots__ = ("received", "left")

    def __init__(self, received: Received, count: int) -> None:
        self.received = received
        self.left = count

    def settle(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.received.ack()


@dataclass
class Item:
    """One record to deliver, and how to settle the message it came in."""

    received: Received
    envelope: Envelope
    attempt: int
    settle: Callable[[], None]
    history: list[dict[str, str]] = field(default_factory=list)
    message_id: str = field(init=False)  # the envelope's, as the stores spell it: asked for several times

    def __post_init__(self) -> None:
        self.message_id = str(self.envelope.message_id)

    @classmethod
    def all_of(cls, received: Received, envelopes: list[Envelope]) -> list[Item]:
        if len(envelopes) > 1:
            settle = _Countdown(received, len(envelopes)).settle
            return [cls(received, envelope, 0, settle) for envelope in envelopes]
        text = received.headers.get(HISTORY)  # only a retried message has one
        try:
            history = json.loads(str(text)) if text else []
        except ValueError:
            history = []
        return [cls(received, envelopes[0], int(received.headers.get(ATTEMPT) or 0), received.ack, history)]

    def attempts(self) -> tuple[Attempt, ...]:
        return tuple(Attempt.from_json(a) for a in self.history)

    def remember(self, attempt: Attempt) -> None:
        self.history = [*self.history, attempt.to_json()][-HISTORY_KEPT:]


class DeliveryWorker:
    def __init__(
        self,
        *,
        target_name: str,
        target: DeliveryTarget,
        router: Router,
        breaker: CircuitBreaker,
        delayer: Delayer,
        topology: Topology,
        status: StatusStore,
        failed: FailedStore,
        message_log: MessageLog,
        codec: BrokerCodec,
        stop: threading.Event,
        batch_size: int,
    ) -> None:
        """`batch_size`: the most records sent to the target in one call."""
        self.target_name = target_name
        self.target = target
        self.router = router
        self.breaker = breaker
        self.delayer = delayer
        self.topology = topology
        self.status = status
        self.failed = failed
        self.message_log = message_log
        self.codec = codec
        self.scrub = failed.db.scrub  # failure texts travel in the hub-history header, in clear
        self.stop = stop
        self.batch_size = batch_size
        self.park_delay = min(router.delays_for(target_name))

    def pause_seconds(self) -> float:
        """For the consumer loop: how long to stop consuming (an open circuit)."""
        return self.breaker.seconds_until_probe()

    def handle(self, batch: list[Received]) -> None:
        items: list[Item] = []
        malformed: list[Failure] = []
        bad: list[Received] = []
        for received in batch:
            try:
                items.extend(Item.all_of(received, self.codec.envelopes(received.body)))
            except ValueError as exc:
                error = MalformedMessage(f"not a hub envelope: {str(exc)[:300]}")
                malformed.append(Failure(None, received.body, self.target_name, error.error_class, str(error), ()))
                bad.append(received)
        if malformed:
            stored = store_failures(self.failed, self.message_log, malformed, [r.ack for r in bad])
            for failure, failed_id in zip(malformed, stored, strict=True):
                log.warning(
                    "message failed for good",
                    extra={
                        "failed_id": failed_id,
                        "target": self.target_name,
                        "error_class": failure.error_class,
                        "reason": logs.short(failure.message, self.scrub),
                        "attempts": 0,
                    },
                )
        items, copies = _first_of_each(items)
        for chunk in _chunks(items, self.batch_size):
            correlations = [str(c) for c in dict.fromkeys(i.envelope.correlation_id for i in chunk)]  # each load once
            with logs.handling([i.message_id for i in chunk], correlations):
                self._deliver(chunk)  # its lines name the records, not the bundle that carried them
        if copies:
            metrics.deduplicated.labels(self.target_name).inc(len(copies))
            self.message_log.record(
                (i.message_id, "deduplicated", {"target": self.target_name, "copy_in_batch": True}) for i in copies
            )
            for item in copies:
                item.settle()

    def _deliver(self, items: list[Item]) -> None:
        already = self.status.delivered_among(i.message_id for i in items)
        if already:
            metrics.deduplicated.labels(self.target_name).inc(len(already))
            self.message_log.record((mid, "deduplicated", {"target": self.target_name}) for mid in already)
            for item in items:
                if item.message_id in already:
                    item.settle()
            items = [i for i in items if i.message_id not in already]
            if not items:
                return
        if not self._may_call():
            self._park(items)
            return

        policy = self._policy(items[0])
        envelopes = [i.envelope for i in items]
        retried = sum(1 for i in items if i.attempt)
        try:
            results = policy.quick(lambda: timed(self.target_name, lambda: self.target.deliver(envelopes)))
        except Exception as exc:
            error_class, permanent = classify(exc)
            metrics.delivery_attempts.labels(self.target_name, error_class).inc()
            if retried:
                metrics.retry_attempts.labels(self.target_name, error_class).inc(retried)
            if permanent:
                if isinstance(exc, TargetRejected):
                    self.breaker.success()  # the target answered: it is up
                log.error(
                    "delivery failed for good",
                    extra={
                        "target": self.target_name,
                        "error_class": error_class,
                        "error": logs.short(str(exc), self.scrub),
                        **logs.about([i.message_id for i in items]),
                    },
                    exc_info=error_class == "internal",
                )
                self._fail(items, exc)
            else:
                self.breaker.failure(f"{error_class}: {logs.short(str(exc), self.scrub)}")
                self._retry(items, exc)
            return
        self.breaker.success()
        metrics.delivery_attempts.labels(self.target_name, "ok").inc()
        if retried:
            metrics.retry_attempts.labels(self.target_name, "ok").inc(retried)

        by_id: dict[uuid.UUID, DeliveryResult] = {}
        for result in results:  # a target that answers a record twice: its first answer counts
            by_id.setdefault(result.message_id, result)
        done, rejected, unanswered = [], [], []
        duplicates: set[str] = set()
        for item in items:
            result = by_id.get(item.envelope.message_id)
            if result is None:
                unanswered.append(item)
            elif result.outcome == "rejected":
                rejected.append((item, TargetRejected(result.reason or "rejected by the target")))
            else:
                if result.outcome == "duplicate":
                    metrics.target_duplicates.labels(self.target_name).inc()
                    duplicates.add(item.message_id)
                done.append(item)
        self._delivered(done, duplicates)
        for item, error in rejected:
            self._fail([item], error)
        if unanswered:
            self._retry(unanswered, TargetUnavailable(f"{self.target_name} did not answer for these records"))

    def _may_call(self) -> bool:
        """Closed: yes. Open: no. Half-open: the first asker probes, the others wait for its answer."""
        deadline = time.monotonic() + 60
        while not self.stop.is_set():
            if self.breaker.allow():
                return True
            if self.breaker.state is not State.HALF_OPEN or time.monotonic() > deadline:
                return False
            self.stop.wait(0.1)
        return False

    def _policy(self, item: Item) -> RetryPolicy:
        return self.router.route(item.envelope.type).policy

    # -- settling ---------------------------------------------------------------------------------

    def _delivered(self, items: Sequence[Item], duplicates: set[str]) -> None:
        if not items:
            return
        now = utcnow()
        ids = [i.message_id for i in items]
        counted = self.status.mark_delivered(ids, now)
        if len(counted) < len(ids):
            self._not_moved(set(ids) - counted)
        # counted once the effect is done (even if what follows fails, or the ack is lost), by the worker
        # that moved the record to delivered; a batch's records share a few label sets, each looked up once
        latencies: dict[tuple[str, str, str], list[float]] = {}
        for item in (i for i in items if i.message_id in counted):
            envelope = item.envelope
            latencies.setdefault((envelope.flow, envelope.source, envelope.type), []).append(
                max((now - envelope.created_at).total_seconds(), 0.0)
            )
        for (flow, source, type_), seconds in latencies.items():
            metrics.messages_delivered.labels(flow, source, self.target_name, type_).inc(len(seconds))
            histogram = metrics.delivery_latency.labels(flow, self.target_name, type_)
            for value in seconds:
                histogram.observe(value)
        # the status row says when a record was delivered; the message log adds only what it does not
        # say (a delivery after retries or a replay, a target that had the record already), which
        # spares the common case a row per record
        self.message_log.record(
            (
                (
                    i.message_id,
                    "delivered",
                    {
                        "target": self.target_name,
                        "attempt": i.attempt + 1,
                        "latency_ms": round((now - i.envelope.created_at).total_seconds() * 1000),
                        "target_had_it": i.message_id in duplicates,
                    },
                )
                for i in items
                if i.attempt or i.message_id in duplicates or i.received.headers.get(REPLAYS)
            ),
            now,
        )
        if any(i.received.headers.get(REPLAYS) for i in items):
            self.failed.resolve(ids, now)
        for item in items:
            item.settle()

    def _not_moved(self, ids: set[str]) -> None:
        """Records delivered whose rows this worker did not move: another worker delivered them meanwhile
        (and counted them), or the store has no row at all: their load was refused after its publish had
        reached the broker, unconfirmed. Those are counted when the partner's resend gives them a receipt
        (the target answers "duplicate"), or never, if no resend comes: the warning names them, and
        their counter raises an alert."""
        others = self.status.delivered_among(ids)
        metrics.deduplicated.labels(self.target_name).inc(len(others))
        if unknown := ids - others:
            metrics.delivered_without_row.labels(self.target_name).inc(len(unknown))
            log.warning(
                "delivered records the store holds no row for: a load refused after its publish reached the broker",
                extra={"target": self.target_name, **logs.about(sorted(unknown))},
            )

    def _retry(self, items: Sequence[Item], error: BaseException) -> None:
        """Each message to its route's next delay, or to the store when its attempts or age ran out."""
        now = utcnow()
        error_class = classify(error)[0]
        exhausted: list[Item] = []
        by_delay: dict[float, list[OutgoingMessage]] = {}
        for item in items:
            attempt = item.attempt + 1
            item.remember(Attempt(now, error_class, self.scrub(str(error))))
            policy = self._policy(item)
            if policy.exhausted(attempt, item.envelope.created_at, now):
                exhausted.append(item)
                continue
            headers = {**carried(item.received.headers), ATTEMPT: attempt, HISTORY: json.dumps(item.history)}
            by_delay.setdefault(policy.delay_for(attempt), []).append(
                self.codec.message(item.envelope, "", "", headers)
            )
        error_text = logs.short(str(error), self.scrub)
        for delay, messages in by_delay.items():
            self.delayer.schedule(self.target_name, delay, messages).result(timeout=SETTLE_TIMEOUT_SECONDS)
            metrics.retries_scheduled.labels(self.target_name, f"{delay:g}s").inc(len(messages))
            self.message_log.record(
                (
                    m.message_id,
                    "retry_scheduled",
                    {
                        "attempt": m.headers[ATTEMPT],
                        "delay_s": delay,
                        "error_class": error_class,
                        "error": error_text,
                    },
                )
                for m in messages
            )
        for item in items:
            if item not in exhausted:
                item.settle()
        for delay, messages in by_delay.items():  # a line per delay: its messages share the next try
            log.warning(
                "delivery will be retried",
                extra={
                    "target": self.target_name,
                    "error_class": error_class,
                    "error": error_text,
                    "attempt": _numbers([int(m.headers[ATTEMPT]) for m in messages]),
                    "next_delay_s": delay,
                    **logs.about([m.message_id for m in messages]),
                },
            )
        if exhausted:
            self._fail(exhausted, error, note=f"gave up after {exhausted[0].attempt + 1} attempts: ", counted=True)

    def _park(self, items: Sequence[Item]) -> None:
        """The circuit is open: back to wait, without spending an attempt."""
        messages = [self.codec.message(i.envelope, "", "", carried(i.received.headers)) for i in items]
        self.delayer.schedule(self.target_name, self.park_delay, messages).result(timeout=SETTLE_TIMEOUT_SECONDS)
        self.message_log.record(
            (m.message_id, "waiting", {"why": f"circuit to {self.target_name} open", "delay_s": self.park_delay})
            for m in messages
        )
        for item in items:
            item.settle()

    def _fail(self, items: Sequence[Item], error: BaseException, note: str = "", counted: bool = False) -> None:
        """`counted`: this last failure is already in each item's history."""
        error_class = classify(error)[0]
        now = utcnow()
        failures = []
        for item in items:
            if not counted:
                item.remember(Attempt(now, error_class, self.scrub(str(error))))
            failures.append(
                Failure(
                    item.envelope,
                    item.received.body,
                    self.target_name,
                    error_class,
                    f"{note}{error}",
                    item.attempts(),
                )
            )
        stored = store_failures(self.failed, self.message_log, failures, [i.settle for i in items])
        reason = logs.short(f"{note}{error}", self.scrub)
        for item, failed_id in zip(items, stored, strict=True):  # each its own line: `hub failed show <failed_id>`
            log.warning(
                "message failed for good",
                extra={
                    "message_id": item.message_id,
                    "correlation_id": str(item.envelope.correlation_id),
                    "failed_id": failed_id,
                    "target": self.target_name,
                    "error_class": error_class,
                    "reason": reason,
                    "attempts": item.attempt + 1,
                },
            )


def store_failures(
    failed: FailedStore,
    message_log: MessageLog,
    failures: Sequence[Failure],
    settle: Iterable[Callable[[], None]],
) -> list[int]:
    """Into the failed-message store, logged, counted, then acked: the one way a message leaves for good.
    Returns the failures' entry ids in the store, in order."""
    now = utcnow()
    stored = failed.put(failures, now)
    message_log.record(
        (
            (
                str(f.envelope.message_id),
                "failed",
                {"target": f.target, "error_class": f.error_class, "reason": f.message[:300]},
            )
            for f in failures
            if f.envelope is not None
        ),
        now,
    )
    for failure in failures:
        envelope = failure.envelope
        metrics.failed_stored.labels(failure.target, failure.error_class).inc()
        metrics.messages_failed.labels(
            envelope.flow if envelope else "",
            envelope.source if envelope else "unknown",
            failure.target,
            envelope.type if envelope else "unknown",
            failure.error_class,
        ).inc()
    for done in settle:
        done()
    return stored


def _numbers(values: Sequence[int]) -> str:
    """Attempt numbers as a line gives them: "3", or "2-4" for a batch whose messages differ."""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def _first_of_each(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """The batch's items with each record once, and the copies of records already in it."""
    seen: set[str] = set()
    first, copies = [], []
    for item in items:
        (copies if item.message_id in seen else first).append(item)
        seen.add(item.message_id)
    return first, copies


def _chunks(items: list[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
