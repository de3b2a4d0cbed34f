"""The VISS-style message header as a model, to and from its XML element."""

from __future__ import annotations

import uuid
from typing import Annotated

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import FieldError, ValidationFailed

VH_NS = "urn:lv:welfare-hub:viss-header:v1"
_FIELDS = (
    ("message_id", "MessageID"),
    ("message_type", "MessageType"),
    ("correlation_id", "CorrelationID"),
    ("sender", "Sender"),
    ("destination", "Destination"),
    ("user_id", "UserId"),
    ("purpose", "Purpose"),
    ("issue", "Issue"),
)

_TAGS = dict(_FIELDS)
_RULES = {  # pydantic's error types in the words of the hub's other refusals
    "missing": "required",
    "string_too_short": "min-length",
    "string_too_long": "max-length",
    "string_pattern_mismatch": "pattern",
    "uuid_parsing": "pattern",
    "uuid_type": "pattern",
}
HEADER_PATH = "Envelope/Header/MessageHeader"

SystemId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


class MessageHeader(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID
    message_type: str
    correlation_id: uuid.UUID | None = None
    sender: SystemId
    destination: SystemId
    user_id: str = Field(min_length=1, max_length=200)
    purpose: str | None = None
    issue: str | None = None

    @classmethod
    def from_element(cls, element: etree._Element) -> MessageHeader:
        """The header an element carries, or `ValidationFailed` naming each field and rule it breaks."""
        values = {}
        for attr, tag in _FIELDS:
            text = element.findtext(f"{{{VH_NS}}}{tag}")
            if text is not None:
                values[attr] = text.strip()
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ValidationFailed(
                [
                    FieldError(
                        f"{HEADER_PATH}/{_TAGS.get(str(error['loc'][0]), str(error['loc'][0]))}",
                        _RULES.get(error["type"], error["type"].replace("_", "-")),
                        error["msg"],
                    )
                    for error in exc.errors(include_url=False)
                ]
            ) from None

    def to_element(self) -> etree._Element:
        element = etree.Element(f"{{{VH_NS}}}MessageHeader", nsmap={"vh": VH_NS})
        for attr, tag in _FIELDS:
            value = getattr(self, attr)
            if value is not None:
                etree.SubElement(element, f"{{{VH_NS}}}{tag}").text = str(value)
        return element

    @staticmethod
    def message_type_of(element: etree._Element) -> str:
        """The URN naming a body element: its namespace, '#', its local name."""
        qname = etree.QName(element)
        return f"{qname.namespace}#{qname.localname}"
