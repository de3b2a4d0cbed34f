"""Delivery to one target: a batch from the queue in, the target's confirmation, then acks.

A message is acked only after its effect is done: delivered (the target confirmed), or parked
with its reason on the broker's parked queue (confirmed there). A target that is down gets the
batch back in the queue after a pause, so nothing is lost and the worker does not spin.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from hub import metrics
from hub.broker.consumer import Received
from hub.broker.message import OutgoingMessage
from hub.broker.publisher import Publisher
from hub.broker.topology import PARKED_KEY, Topology
from hub.envelope import Envelope, utcnow
from hub.errors import MalformedMessage, TargetRejected, classify
from hub.store.status import StatusStore
from hub.systems import Target

log = logging.getLogger(__name__)

PARK_TIMEOUT_SECONDS = 30.0


class DeliveryWorker:
    def __init__(
        self,
        *,
        target_name: str,
        target: Target,
        publisher: Publisher,
        topology: Topology,
        store: StatusStore,
        stop: threading.Event,
        max_pause_seconds: float = 10.0,
    ) -> None:
        self.target_name = target_name
        self.target = target
        self.publisher = publisher
        self.topology = topology
        self.store = store
        self.stop = stop
        self.max_pause_seconds = max_pause_seconds
        self._consecutive_failures = 0

    def handle(self, batch: list[Received]) -> None:
        decoded: list[tuple[Received, Envelope]] = []
        for received in batch:
            try:
                decoded.append((received, Envelope.from_json(received.body)))
            except ValueError as exc:
                self._park([(received, None, MalformedMessage(f"not a hub envelope: {exc}"))])
        if decoded:
            self._deliver(decoded)

    def _deliver(self, batch: list[tuple[Received, Envelope]]) -> None:
        envelopes = [envelope for _, envelope in batch]
        try:
            results = self.target.deliver(envelopes)
        except Exception as exc:
            error_class, permanent = classify(exc)
            metrics.delivery_attempts.labels(self.target_name, error_class).inc()
            if permanent:
                log.error(
                    "target refused the whole batch",
                    extra={"target": self.target_name, "error_class": error_class, "messages": len(batch)},
                )
                self._park([(received, envelope, exc) for received, envelope in batch])
            else:
                self._pause_and_requeue(batch, exc)
            return
        metrics.delivery_attempts.labels(self.target_name, "ok").inc()
        self._consecutive_failures = 0

        by_id = {result.message_id: result for result in results}
        done: list[tuple[Received, Envelope]] = []
        rejected: list[tuple[Received, Envelope | None, BaseException]] = []
        unanswered: list[tuple[Received, Envelope]] = []
        for received, envelope in batch:
            result = by_id.get(envelope.message_id)
            if result is None:
                unanswered.append((received, envelope))
            elif result.outcome == "rejected":
                rejected.append((received, envelope, TargetRejected(result.reason or "rejected by the target")))
            else:
                if result.outcome == "duplicate":
                    metrics.target_duplicates.labels(self.target_name).inc()
                done.append((received, envelope))

        now = utcnow()
        self.store.mark_delivered([str(envelope.message_id) for _, envelope in done], now)
        for received, envelope in done:
            received.ack()
            metrics.messages_delivered.labels(envelope.source, self.target_name, envelope.type).inc()
            metrics.delivery_latency.labels(self.target_name, envelope.type).observe(
                max((now - envelope.created_at).total_seconds(), 0.0)
            )
        if rejected:
            self._park(rejected)
        if unanswered:
            log.warning("target left records unanswered", extra={"target": self.target_name, "count": len(unanswered)})
            for received, _ in unanswered:
                received.requeue()

    def _pause_and_requeue(self, batch: Sequence[tuple[Received, Envelope]], exc: BaseException) -> None:
        self._consecutive_failures += 1
        pause = min(2.0 ** (self._consecutive_failures - 1), self.max_pause_seconds)
        log.warning(
            "target unavailable, batch goes back to the queue",
            extra={
                "target": self.target_name,
                "error_class": classify(exc)[0],
                "error": str(exc)[:300],
                "pause_s": pause,
                "messages": len(batch),
            },
        )
        self.stop.wait(pause)
        for received, _ in batch:
            received.requeue()

    def _park(self, failures: Sequence[tuple[Received, Envelope | None, BaseException]]) -> None:
        """Move failed messages to the parked queue with their reason, then ack them; if the broker
        will not take them, they stay in their queue (requeued), never dropped."""
        now = utcnow()
        messages = []
        for received, envelope, exc in failures:
            error_class, _ = classify(exc)
            reason = str(exc)[:2000]
            headers: dict[str, str | int] = {
                "hub-error-class": error_class,
                "hub-reason": reason,
                "hub-failed-at": now.isoformat(),
                "hub-target": self.target_name,
            }
            if envelope is not None:
                messages.append(
                    OutgoingMessage.from_envelope(envelope, self.topology.parked_exchange, PARKED_KEY, headers)
                )
            else:
                messages.append(
                    OutgoingMessage(
                        exchange=self.topology.parked_exchange,
                        routing_key=PARKED_KEY,
                        body=received.body,
                        message_id="",
                        correlation_id="",
                        type="",
                        timestamp=int(now.timestamp()),
                        headers=headers,
                    )
                )
        try:
            self.publisher.publish(messages).result(timeout=PARK_TIMEOUT_SECONDS)
        except Exception as exc:
            log.error(
                "could not park failed messages; they stay queued",
                extra={"target": self.target_name, "error": str(exc)[:300], "messages": len(failures)},
            )
            self.stop.wait(1.0)
            for received, _, _ in failures:
                received.requeue()
            return
        self.store.mark_failed(
            [
                (str(envelope.message_id), classify(exc)[0], str(exc))
                for _, envelope, exc in failures
                if envelope is not None
            ],
            now,
        )
        for received, envelope, exc in failures:
            received.ack()
            error_class = classify(exc)[0]
            if envelope is not None:
                metrics.messages_failed.labels(envelope.source, self.target_name, envelope.type, error_class).inc()
                log.warning(
                    "message failed for good and was parked",
                    extra={
                        "message_id": str(envelope.message_id),
                        "correlation_id": str(envelope.correlation_id),
                        "target": self.target_name,
                        "error_class": error_class,
                    },
                )
            else:
                metrics.messages_failed.labels("unknown", self.target_name, "unknown", error_class).inc()
