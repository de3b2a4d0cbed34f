"""Messages RabbitMQ dead-lettered (delivered too often without an ack: a worker that crashes on
them) go into the failed-message store, so a poison message stops and an operator sees why."""

from __future__ import annotations

import logging

from hub.broker.codec import BrokerCodec
from hub.broker.consumer import Received
from hub.envelope import Envelope
from hub.store.failed import FailedStore, Failure
from hub.store.message_log import MessageLog
from hub.worker import store_failures

log = logging.getLogger(__name__)


class DeadLetterMover:
    def __init__(self, failed: FailedStore, message_log: MessageLog, prefix: str, codec: BrokerCodec) -> None:
        self.failed = failed
        self.codec = codec
        self.message_log = message_log
        self.prefix = prefix

    def handle(self, batch: list[Received]) -> None:
        failures = [self._failure(received) for received in batch]
        store_failures(self.failed, self.message_log, failures, batch)
        for failure in failures:
            envelope = failure.envelope
            log.error(
                "poison message moved to the failed-message store",
                extra={"message_id": str(envelope.message_id) if envelope else None, "target": failure.target},
            )

    def _failure(self, received: Received) -> Failure:
        try:
            envelope: Envelope | None = self.codec.envelope(received.body)
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
