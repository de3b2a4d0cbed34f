"""SOAP 1.1 envelopes: taking apart what arrives, building what leaves.

An envelope is taken apart once, into the elements the hub reads, each the one of its kind in its
one place; the signature is checked over those very elements and the hub then reads them, never
looks them up again. A second Body, MessageHeader, Security header, Timestamp or Signature anywhere
in the document is refused: that is how signature wrapping works (the verifier checks one copy, the
application reads another), and no message the hub accepts has a use for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from hub.errors import ValidationFailed
from hub.soap.header import VH_NS, MessageHeader

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
HUB_NS = "urn:lv:welfare-hub:v1"

ENVELOPE = f"{{{SOAP11_NS}}}Envelope"
HEADER = f"{{{SOAP11_NS}}}Header"
BODY = f"{{{SOAP11_NS}}}Body"
MESSAGE_HEADER = f"{{{VH_NS}}}MessageHeader"
SECURITY = f"{{{WSSE_NS}}}Security"  # the WS-Security header block the gateway understands
TIMESTAMP = f"{{{WSU_NS}}}Timestamp"
SIGNATURE = f"{{{DS_NS}}}Signature"
MUST_UNDERSTAND = f"{{{SOAP11_NS}}}mustUnderstand"

# Each element the hub reads, or checks a signature with, by where the one allowed copy stands.
_PLACES = {
    HEADER: ("Envelope/Header", ENVELOPE),
    BODY: ("Envelope/Body", ENVELOPE),
    MESSAGE_HEADER: ("Envelope/Header/MessageHeader", HEADER),
    SECURITY: ("Envelope/Header/Security", HEADER),
    TIMESTAMP: ("Envelope/Header/Security/Timestamp", SECURITY),
    SIGNATURE: ("Envelope/Header/Security/Signature", SECURITY),
}


class EnvelopeSigner(Protocol):
    """What signs an envelope in place (`hub.soap.signature.Signer`)."""

    def sign(self, envelope: etree._Element) -> etree._Element: ...


class SoapVersionMismatch(ValidationFailed):
    """A SOAP 1.2 (or other) envelope where SOAP 1.1 is spoken; Fault code VersionMismatch."""


@dataclass(frozen=True, slots=True)
class SoapMessage:
    """The parts of one envelope, each the single element of its kind (None where absent)."""

    envelope: etree._Element
    header: etree._Element | None
    message_header: etree._Element | None
    security: etree._Element | None
    timestamp: etree._Element | None
    signature: etree._Element | None
    body: etree._Element
    content: etree._Element  # the Body's one element

    def read_header(self) -> MessageHeader:
        if self.message_header is None:
            raise ValidationFailed.single(
                "Envelope/Header/MessageHeader", "required", "the VISS message header is missing"
            )
        return MessageHeader.from_element(self.message_header)


def parse_envelope(root: etree._Element) -> SoapMessage:
    """The parts of a parsed document, once its structure is the one the hub accepts."""
    qname = etree.QName(root)
    if qname.localname == "Envelope" and qname.namespace == SOAP12_NS:
        raise SoapVersionMismatch.single("Envelope", "soap-version", "SOAP 1.2 is not spoken here; use SOAP 1.1")
    if root.tag != ENVELOPE:
        raise SoapVersionMismatch.single(
            "Envelope", "soap-envelope", f"the document element must be {{{SOAP11_NS}}}Envelope"
        )
    parts = _single_parts(root)
    header, body = parts.get(HEADER), parts.get(BODY)
    children = [child for child in root if isinstance(child.tag, str)]
    expected = [e for e in (header, body) if e is not None]
    if children != expected:
        extra = next((c for c in children if c not in expected), None)
        if extra is not None:
            raise ValidationFailed.single(
                f"Envelope/{etree.QName(extra).localname}",
                "unexpected-element",
                "the Envelope holds a Header and a Body, nothing else",
            )
        raise ValidationFailed.single("Envelope/Header", "element-order", "the Header must come before the Body")
    if body is None:
        raise ValidationFailed.single("Envelope/Body", "required", "the SOAP Body is missing")
    content = [child for child in body if isinstance(child.tag, str)]
    if len(content) != 1:
        raise ValidationFailed.single(
            "Envelope/Body", "single-body-element", f"the Body must hold one element, not {len(content)}"
        )
    if header is not None:
        _understood(header)
    return SoapMessage(
        envelope=root,
        header=header,
        message_header=parts.get(MESSAGE_HEADER),
        security=parts.get(SECURITY),
        timestamp=parts.get(TIMESTAMP),
        signature=parts.get(SIGNATURE),
        body=body,
        content=content[0],
    )


def _single_parts(root: etree._Element) -> dict[str, etree._Element]:
    """Each structural element of the document by tag, refusing a second one anywhere or one away
    from its place."""
    found: dict[str, etree._Element] = {}
    for element in root.iter(*_PLACES):
        where, parent = _PLACES[element.tag]
        if element.tag in found:
            raise ValidationFailed.single(
                where,
                "duplicate-element",
                f"a message holds one {where.rsplit('/', 1)[-1]}; another stands at {_path(element)}",
            )
        if element.getparent() is not (root if parent == ENVELOPE else found.get(parent)):
            raise ValidationFailed.single(
                where, "misplaced-element", f"{where.rsplit('/', 1)[-1]} must stand at {where}, not at {_path(element)}"
            )
        found[element.tag] = element
    return found


def _path(element: etree._Element) -> str:
    names = []
    while element is not None:
        names.append(etree.QName(element).localname)
        element = element.getparent()
    return "/".join(reversed(names))


def _understood(header: etree._Element) -> None:
    for block in header:
        if not isinstance(block.tag, str) or block.tag in (MESSAGE_HEADER, SECURITY):
            continue
        if block.get(MUST_UNDERSTAND) in ("1", "true"):
            name = etree.QName(block).localname
            raise ValidationFailed.single(
                f"Envelope/Header/{name}", "must-understand", f"header block {block.tag} is not understood"
            )


def build_envelope(
    body: etree._Element, header: MessageHeader | None = None, signer: EnvelopeSigner | None = None
) -> bytes:
    """The SOAP 1.1 message carrying `body`; signed (WS-Security) when a signer is given."""
    namespaces = {"soap": SOAP11_NS, "wsu": WSU_NS} if signer is not None else {"soap": SOAP11_NS}
    envelope = etree.Element(ENVELOPE, nsmap=namespaces)
    if header is not None or signer is not None:
        soap_header = etree.SubElement(envelope, HEADER)
        if header is not None:
            soap_header.append(header.to_element())
    etree.SubElement(envelope, BODY).append(body)
    if signer is not None:
        signer.sign(envelope)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
