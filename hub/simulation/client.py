"""A partner's side of the hub's SOAP interface: posts envelopes with the VISS header, reads
receipts, status answers and Faults. Resends the same MessageID when the hub says "retry"."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

import httpx
from lxml import etree

from hub.errors import ValidationFailed
from hub.soap import HUB_NS, SOAP11_NS, Fault, MessageHeader, build_envelope, parse_envelope, parse_fault
from hub.soap.signature import SignatureVerifier, Signer

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class Answer:
    status_code: int
    body: etree._Element | None
    fault: Fault | None
    header: MessageHeader | None = None
    attempts: int = 1


@dataclass
class Submitted:
    receipt_id: str
    records: int
    fault: Fault | None = None
    message_ids: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.fault is None


class HubClient:
    def __init__(
        self,
        base_url: str,
        *,
        sender: str,
        timeout: float = 60.0,
        retries: int = 5,
        signer: Signer | None = None,
        hub_verifier: SignatureVerifier | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """`signer`: the sender's key, signing every message (a hub with signatures required refuses
        unsigned ones). `hub_verifier`: checks that every answer is signed by the hub, as a partner would;
        an answer that is not is a transport fault. `stop`: once set, no more resends."""
        self.url = f"{base_url.rstrip('/')}/soap/{sender}"
        self.sender = sender
        self.retries = retries
        self.signer = signer
        self.hub_verifier = hub_verifier
        self.stop = stop or threading.Event()
        self._http = httpx.Client(timeout=timeout)

    def call(
        self,
        body: etree._Element,
        *,
        destination: str,
        user_id: str,
        message_id: uuid.UUID | None = None,
        purpose: str | None = None,
    ) -> Answer:
        """Send `body`; resend when the hub says "retry", signed anew each time. A load keeps its
        `message_id` (the hub answers a resend with the receipt it gave); any other message gets a new
        MessageID per attempt, as the hub refuses a used one (a replay)."""
        answer = Answer(0, None, None)
        for attempt in range(1, self.retries + 2):
            header = MessageHeader(
                message_id=message_id or uuid.uuid4(),
                message_type=MessageHeader.message_type_of(body),
                sender=self.sender,
                destination=destination,
                user_id=user_id,
                purpose=purpose,
            )
            answer = self._post(build_envelope(body, header, self.signer))
            answer.attempts = attempt
            if answer.fault is None or not answer.fault.retry or attempt > self.retries:
                break
            if self.stop.wait(min(0.5 * 2 ** (attempt - 1), 10.0)):
                break
        return answer

    def _post(self, payload: bytes) -> Answer:
        try:
            response = self._http.post(
                self.url, content=payload, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
            )
        except httpx.TransportError as exc:
            return Answer(0, None, Fault("Server", f"transport error: {exc}", "transport", True))
        try:
            root = etree.fromstring(response.content, _PARSER)
        except etree.XMLSyntaxError:
            return Answer(
                response.status_code,
                None,
                Fault("Server", f"HTTP {response.status_code}: not XML", "transport", response.status_code >= 500),
            )
        try:
            message = parse_envelope(root)
            if self.hub_verifier is not None and self.hub_verifier.verify(message) != "hub":
                raise ValidationFailed.single("Envelope/Header/Security", "signer-mismatch", "not signed by the hub")
        except ValidationFailed as exc:
            return Answer(
                response.status_code, None, Fault("Server", f"the answer is not the hub's: {exc}", "transport", False)
            )
        header = message.read_header() if message.message_header is not None else None
        content = message.content
        if content.tag == f"{{{SOAP11_NS}}}Fault":
            return Answer(response.status_code, content, parse_fault(content), header)
        return Answer(response.status_code, content, None, header)

    def submit(self, body: etree._Element, *, destination: str, user_id: str, records: int) -> Submitted:
        message_id = uuid.uuid4()
        answer = self.call(body, destination=destination, user_id=user_id, message_id=message_id)
        if answer.fault is not None or answer.body is None:
            return Submitted(
                str(message_id), records, answer.fault or Fault("Server", "empty answer", "transport", True)
            )
        ids = [r.get("messageId") for r in answer.body.iterfind(f"{{{HUB_NS}}}Record")]
        notices = [n.text or "" for n in answer.body.iterfind(f"{{{HUB_NS}}}Notice")]
        return Submitted(answer.body.findtext(f"{{{HUB_NS}}}ReceiptID") or "", records, None, ids, notices)

    def status(self, receipt_id: str, *, destination: str, user_id: str) -> Answer:
        query = etree.Element(f"{{{HUB_NS}}}GetStatus", nsmap={"hub": HUB_NS})
        etree.SubElement(query, f"{{{HUB_NS}}}ReceiptID").text = receipt_id
        return self.call(query, destination=destination, user_id=user_id)

    def close(self) -> None:
        self._http.close()
