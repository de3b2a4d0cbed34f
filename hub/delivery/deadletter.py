"""Messages RabbitMQ dead-lettered (delivered too often without an ack: a worker that crashes on
them) go into the failed-message store, so a poison message stops and an operator sees why."""

from __future__ import annotations

import logging

from hub.broker.codec import BrokerCodec
from hub.broker.consumer import Received
from hub.delivery.worker import store_failures
from hub.envelope import Envelope
from hub.errors import POISON
from hub.store.failed import FailedStore, Failure
from hub.store.message_log import MessageLog

log = logging.getLogger(__name__)


class DeadLetterMover:
    def __init__(self, failed: FailedStore, message_log: MessageLog, prefix: str, codec: BrokerCodec) -> None:
        self.failed = failed
        self.codec = codec
        self.message_log = message_log
        self.prefix = prefix

    def handle(self, batch: list[Received]) -> None:
        failures = [failure for received in batch for failure in self._failures(received)]
        stored = store_failures(self.failed, self.message_log, failures, [r.ack for r in batch])
        for failure, failed_id in zip(failures, stored, strict=True):
            envelope = failure.envelope
            log.error(
                "poison message moved to the failed-message store",
                extra={
                    "message_id": str(envelope.message_id) if envelope else None,
                    "target": failure.target,
                    "failed_id": failed_id,
                    "reason": failure.message,
                },
            )

    def _failures(self, received: Received) -> list[Failure]:
        """One for each record the message carried (a bundle carries several)."""
        try:
            envelopes: list[Envelope | None] = [*self.codec.envelopes(received.body)]
        except ValueError:
            envelopes = [None]
        headers = received.headers
        queue = str(headers.get("x-first-death-queue") or "")
        reason = str(headers.get("x-first-death-reason") or "dead-lettered")
        fallback = queue.removeprefix(f"{self.prefix}.deliver.") or "unknown"
        count = received.properties.get("delivery_count") or headers.get("x-delivery-count")
        message = (
            f"dead-lettered by the broker from {queue or 'its queue'} ({reason}): "
            "delivered too many times without an ack, a worker probably crashed on it"
        )
        if count:
            message += f" ({count} deliveries)"
        return [
            Failure(envelope, received.body, envelope.target if envelope else fallback, POISON, message, ())
            for envelope in envelopes
        ]
