"""What the hub puts on the broker is sealed with the store's keys (AES-GCM): RabbitMQ keeps durable
messages on disk and shows bodies in its management UI, and a body holds a person's data. The AMQP
properties (message id, correlation id, type) and the hub's own headers stay readable, so routing,
tracing and the broker's tools work without opening anything. A key still opens what it sealed
after a newer one is put in front, so messages in queues survive a rotation."""

from __future__ import annotations

from cryptography.fernet import Fernet

from hub.broker.message import OutgoingMessage
from hub.envelope import Envelope
from hub.store.crypto import KeyUnavailable, Sealer


class BrokerCodec:
    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    @classmethod
    def throwaway(cls) -> BrokerCodec:
        """For tools that build messages they never send (the offline contract kit)."""
        return cls(Sealer([Fernet.generate_key()]))

    def seal(self, data: bytes) -> bytes:
        return self.sealer.seal(data)

    def open(self, body: bytes) -> bytes:
        """The sealed bytes, or ValueError: not sealed by the hub, or by a key no longer configured."""
        try:
            return self.sealer.open(body)
        except KeyUnavailable as exc:
            raise ValueError(f"cannot open the message body: {exc}") from None

    def envelope(self, body: bytes) -> Envelope:
        return Envelope.from_json(self.open(body))

    def message(
        self, envelope: Envelope, exchange: str, routing_key: str, headers: dict[str, str | int] | None = None
    ) -> OutgoingMessage:
        return OutgoingMessage(
            exchange=exchange,
            routing_key=routing_key,
            body=self.seal(envelope.to_json()),
            message_id=str(envelope.message_id),
            correlation_id=str(envelope.correlation_id),
            type=envelope.type,
            timestamp=int(envelope.created_at.timestamp()),
            headers={"hub-source": envelope.source, "hub-target": envelope.target, **(headers or {})},
        )
