"""A message as the publisher sends it: body and properties, no transport objects (`BrokerCodec`
builds one from an envelope)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
