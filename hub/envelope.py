"""The canonical envelope: what travels on the broker, as JSON, for every message."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NotRequired, TypedDict, Unpack, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.canonical import QUERY_TYPES, CanonicalQuery, CanonicalRecord, record_from_payload
from hub.canonical.types import CHECKED


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EnvelopeFields(TypedDict):
    """An envelope's fields with its record as it is: what a bundle serialises. A load's records travel
    in one bundle per target, serialised from these fields without an `Envelope` model built and
    validated per record: the fields come checked (the record validated, the ids and names the
    gateway's own)."""

    message_id: uuid.UUID
    correlation_id: uuid.UUID
    type: str
    source: str
    target: str
    created_at: dt.datetime
    user_id: str
    flow: str
    payload: CanonicalRecord | dict[str, Any]


class Addressing(TypedDict):
    """Where a record goes and on whose behalf; the gateway gives a load's records their ids and time."""

    source: str
    target: str
    user_id: str
    correlation_id: uuid.UUID
    flow: NotRequired[str]
    message_id: NotRequired[uuid.UUID | None]
    created_at: NotRequired[dt.datetime | None]


def envelope_fields(record: CanonicalRecord, **addressing: Unpack[Addressing]) -> EnvelopeFields:
    return {
        "message_id": addressing.get("message_id") or uuid.uuid4(),
        "correlation_id": addressing["correlation_id"],
        "type": record.TYPE,
        "source": addressing["source"],
        "target": addressing["target"],
        "created_at": addressing.get("created_at") or utcnow(),
        "user_id": addressing["user_id"],
        "flow": addressing.get("flow", ""),
        "payload": record,
    }


class Envelope(BaseModel):
    """One canonical message. The AMQP properties carry the same ids, so tools that only see
    the broker (management UI, shovels, tracing) can follow a message without parsing it."""

    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID
    correlation_id: uuid.UUID = Field(description="the receipt (request MessageID) the record came in with")
    type: str = Field(description="canonical type, e.g. social_assistance.benefit.v1")
    source: str
    target: str
    created_at: AwareDatetime = Field(description="when the gateway accepted it; delivery latency starts here")
    user_id: str = Field(description="the end user on whose behalf it was sent")
    flow: str = Field(default="", description="the route's flow (F1...), for metrics and the trace")
    payload: dict[str, Any]

    @classmethod
    def of(cls, record: CanonicalRecord, **addressing: Unpack[Addressing]) -> Envelope:
        """The envelope carrying one canonical record."""
        return cls.from_fields(envelope_fields(record, **addressing))

    @classmethod
    def from_fields(cls, fields: EnvelopeFields) -> Envelope:
        payload = fields["payload"]
        return cls.model_validate(
            {**fields, "payload": payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload}
        )

    def fields(self) -> EnvelopeFields:
        return cast(EnvelopeFields, dict(self))

    def record(self) -> CanonicalRecord:
        """The canonical record this envelope carries, checked when the gateway made the envelope."""
        return record_from_payload(self.type, self.payload, checked=True)

    def query(self) -> CanonicalQuery:
        """The per-person query this envelope carries, checked when the gateway made the envelope."""
        return QUERY_TYPES[self.type].model_validate(self.payload, context={CHECKED: True})

    def to_json(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        return cls.model_validate_json(data)
