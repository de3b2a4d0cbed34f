"""What the hub puts on the broker is sealed with the store's keys (AES-GCM): RabbitMQ keeps durable
messages on disk and shows bodies in its management UI, and a body holds a person's data. The AMQP
properties (message id, correlation id, type) and the hub's own headers stay readable, so routing,
tracing and the broker's tools work without opening anything. A key still opens what it sealed
after a newer one is put in front, so messages in queues survive a rotation.

A data load's records for one target travel as one message, a bundle (a JSON array of envelopes,
its record count in a header, `hub.broker.headers.RECORDS`): publishing, confirming, queueing and sealing are
paid per load instead of per record, which is most of what the broker costs the gateway. Retries,
replays and queries stay one envelope per message, so each record still fails and waits alone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pydantic_core
from cryptography.fernet import Fernet
from pydantic import TypeAdapter

from hub.broker.headers import RECORDS, SOURCE, TARGET
from hub.broker.message import OutgoingMessage
from hub.envelope import Envelope, EnvelopeFields
from hub.store.crypto import KeyUnavailable, Sealer

_ENVELOPES = TypeAdapter(list[Envelope])


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

    def envelopes(self, body: bytes) -> list[Envelope]:
        """What a message carries: one envelope, or a bundle's; ValueError as for `open`."""
        data = self.open(body)
        if data[:1] == b"[":
            envelopes = _ENVELOPES.validate_json(data)
            if not envelopes:
                raise ValueError("an empty bundle")
            return envelopes
        return [Envelope.from_json(data)]

    def bundle(self, envelopes: Sequence[EnvelopeFields], exchange: str, routing_key: str) -> OutgoingMessage:
        """One message for records of one request to one target; its id is stable across resends."""
        first = envelopes[0]
        types = {e["type"] for e in envelopes}
        return OutgoingMessage(
            exchange=exchange,
            routing_key=routing_key,
            body=self.seal(pydantic_core.to_json(envelopes)),
            message_id=str(uuid.uuid5(first["correlation_id"], f"{first['target']}/{first['message_id']}")),
            correlation_id=str(first["correlation_id"]),
            type=types.pop() if len(types) == 1 else "bundle",
            timestamp=int(first["created_at"].timestamp()),
            headers={SOURCE: first["source"], TARGET: first["target"], RECORDS: len(envelopes)},
        )

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
            headers={SOURCE: envelope.source, TARGET: envelope.target, **(headers or {})},
        )
