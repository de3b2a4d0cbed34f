"""SOAP 1.1 envelopes: taking apart what arrives, building what leaves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from hub.errors import ValidationFailed
from hub.soap.header import VH_NS, MessageHeader

if TYPE_CHECKING:
    from hub.soap.signature import Signer

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SECURITY = f"{{{WSSE_NS}}}Security"  # the WS-Security header block the gateway understands
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
HUB_NS = "urn:lv:welfare-hub:v1"


class SoapVersionMismatch(ValidationFailed):
    """A SOAP 1.2 (or other) envelope where SOAP 1.1 is spoken; Fault code VersionMismatch."""


@dataclass(frozen=True, slots=True)
class SoapMessage:
    header_element: etree._Element | None
    body: etree._Element

    def header(self) -> MessageHeader:
        if self.header_element is None:
            raise ValidationFailed.single(
                "Envelope/Header/MessageHeader", "required", "the VISS message header is missing"
            )
        return MessageHeader.from_element(self.header_element)


def parse_envelope(root: etree._Element) -> SoapMessage:
    """Split a parsed document into its VISS header block and its single body element."""
    qname = etree.QName(root)
    if qname.localname == "Envelope" and qname.namespace == SOAP12_NS:
        raise SoapVersionMismatch.single("Envelope", "soap-version", "SOAP 1.2 is not spoken here; use SOAP 1.1")
    if qname.localname != "Envelope" or qname.namespace != SOAP11_NS:
        raise SoapVersionMismatch.single(
            "Envelope", "soap-envelope", f"the document element must be {{{SOAP11_NS}}}Envelope"
        )
    header = root.find(f"{{{SOAP11_NS}}}Header")
    body = root.find(f"{{{SOAP11_NS}}}Body")
    if body is None:
        raise ValidationFailed.single("Envelope/Body", "required", "the SOAP Body is missing")
    children = [child for child in body if isinstance(child.tag, str)]
    if len(children) != 1:
        raise ValidationFailed.single(
            "Envelope/Body", "single-body-element", f"the Body must hold one element, not {len(children)}"
        )
    header_element = None
    if header is not None:
        for block in header:
            if not isinstance(block.tag, str):
                continue
            if block.tag == f"{{{VH_NS}}}MessageHeader":
                header_element = block
            elif block.tag != SECURITY and block.get(f"{{{SOAP11_NS}}}mustUnderstand") in ("1", "true"):
                name = etree.QName(block).localname
                raise ValidationFailed.single(
                    f"Envelope/Header/{name}", "must-understand", f"header block {block.tag} is not understood"
                )
    return SoapMessage(header_element=header_element, body=children[0])


def build_envelope(body: etree._Element, header: MessageHeader | None = None, signer: Signer | None = None) -> bytes:
    """The SOAP 1.1 message carrying `body`; signed (WS-Security) when a signer is given."""
    envelope = etree.Element(f"{{{SOAP11_NS}}}Envelope", nsmap={"soap": SOAP11_NS})
    if header is not None:
        etree.SubElement(envelope, f"{{{SOAP11_NS}}}Header").append(header.to_element())
    etree.SubElement(envelope, f"{{{SOAP11_NS}}}Body").append(body)
    if signer is not None:
        signer.sign(envelope)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
