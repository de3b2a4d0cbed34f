"""A message as the publisher sends it: body and properties, no transport objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.envelope import Envelope


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    correlation_id: str
    type: str
    timestamp: int
    headers: dict[str, str | int] = field(default_factory=dict)
    reply_to: str | None = None  # a query: where the answer goes
    expiration_ms: int | None = None  # a query: the broker drops it once the caller stopped waiting

    @classmethod
    def from_envelope(
        cls, envelope: Envelope, exchange: str, routing_key: str, headers: dict[str, str | int] | None = None
    ) -> OutgoingMessage:
        return cls(
            exchange=exchange,
            routing_key=routing_key,
            body=envelope.to_json(),
            message_id=str(envelope.message_id),
            correlation_id=str(envelope.correlation_id),
            type=envelope.type,
            timestamp=int(envelope.created_at.timestamp()),
            headers={"hub-source": envelope.source, "hub-target": envelope.target, **(headers or {})},
        )
