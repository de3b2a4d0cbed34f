"""Messages RabbitMQ dead-lettered (delivered too often without an ack: a worker that crashes on
them) go into the failed-message store, so a poison message stops and an operator sees why."""

from __future__ import annotations

import logging

from hub import metrics
from hub.broker.consumer import Received
from hub.envelope import Envelope, utcnow
from hub.store.failed import FailedStore, Failure

log = logging.getLogger(__name__)


class DeadLetterMover:
    def __init__(self, failed: FailedStore, prefix: str) -> None:
        self.failed = failed
        self.prefix = prefix

    def handle(self, batch: list[Received]) -> None:
        failures = [self._failure(received) for received in batch]
        self.failed.put(failures, utcnow())
        for received, failure in zip(batch, failures, strict=True):
            received.ack()
            metrics.failed_stored.labels(failure.target, failure.error_class).inc()
            envelope = failure.envelope
            metrics.messages_failed.labels(
                envelope.source if envelope else "unknown",
                failure.target,
                envelope.type if envelope else "unknown",
                failure.error_class,
            ).inc()
            log.error(
                "poison message moved to the failed-message store",
                extra={"message_id": str(envelope.message_id) if envelope else None, "target": failure.target},
            )

    def _failure(self, received: Received) -> Failure:
        try:
            envelope: Envelope | None = Envelope.from_json(received.body)
        except ValueError:
            envelope = None
        headers = received.headers
        queue = str(headers.get("x-first-death-queue") or "")
        reason = str(headers.get("x-first-death-reason") or "dead-lettered")
        target = envelope.target if envelope else queue.removeprefix(f"{self.prefix}.deliver.") or "unknown"
        count = received.properties.get("delivery_count") or headers.get("x-delivery-count")
        message = (
            f"dead-lettered by the broker from {queue or 'its queue'} ({reason}): "
            "delivered too many times without an ack, a worker probably crashed on it"
        )
        if count:
            message += f" ({count} deliveries)"
        return Failure(envelope, received.body, target, "poison", message, ())
