"""Calling a partner's SOAP 1.1 endpoint: where transport outcomes become the hub's error classes.

| outcome | error | retried |
| --- | --- | --- |
| timeout | TargetTimeout | yes |
| connection refused / reset, DNS | TargetUnavailable | yes |
| HTTP 5xx, 404, 408, 429 without a SOAP answer | TargetUnavailable | yes |
| SOAP Fault `Server` (or any code but `Client`) | TargetUnavailable | yes |
| SOAP Fault `Client` | TargetRejected | no |
| any other HTTP status without a SOAP answer | TargetRejected | no |
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx
from lxml import etree

from hub.errors import TargetRejected, TargetTimeout, TargetUnavailable, ValidationFailed
from hub.soap.envelope import SOAP11_NS, build_envelope
from hub.soap.faults import parse_fault
from hub.soap.header import MessageHeader
from hub.soap.signature import Signer
from hub.xml.parser import HardenedParser

if TYPE_CHECKING:
    from hub.systems import TargetSettings

_RETRYABLE_HTTP = {404, 408, 429}


class SoapTransport:
    def __init__(
        self,
        endpoint: str,
        *,
        system: str,
        timeout: float,
        signer: Signer | None = None,
        max_response_bytes: int = 32 << 20,
        connections: int = 4,
    ) -> None:
        self.endpoint = endpoint
        self.system = system
        self.signer = signer
        self.parser = HardenedParser(max_bytes=max_response_bytes, max_depth=32)
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    @classmethod
    def to(cls, system: str, settings: TargetSettings) -> SoapTransport:
        """A target's transport as its settings say. `connections` matches the threads that call at
        once: an httpx pool smaller than its callers fails a call now and then with `ReadError: [Errno 9]
        Bad file descriptor`."""
        return cls(
            settings.endpoint,
            system=system,
            timeout=settings.timeout_seconds,
            signer=settings.signer,
            connections=settings.connections,
        )

    def call(
        self, body: etree._Element, *, soap_action: str, user_id: str = "welfare-hub", purpose: str | None = None
    ) -> etree._Element:
        """POST `body` with a fresh VISS header; return the answer's body element or raise by the table."""
        header = MessageHeader(
            message_id=uuid.uuid4(),
            message_type=MessageHeader.message_type_of(body),
            sender="hub",
            destination=self.system,
            user_id=user_id,
            purpose=purpose,
        )
        try:
            response = self.http.post(
                self.endpoint,
                content=build_envelope(body, header, self.signer),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action}"'},
            )
        except httpx.TimeoutException as exc:
            raise TargetTimeout(f"{self.system} did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TargetUnavailable(f"{self.system} unreachable: {type(exc).__name__}: {exc}") from exc
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> etree._Element:
        status = response.status_code
        try:
            root = self.parser.parse(response.content)
        except ValidationFailed:
            root = None
        body = root.find(f"{{{SOAP11_NS}}}Body") if root is not None else None
        content = body[0] if body is not None and len(body) else None
        if content is None:
            if status >= 500 or status in _RETRYABLE_HTTP or status == 200:
                raise TargetUnavailable(f"{self.system} answered HTTP {status} without a SOAP body")
            raise TargetRejected(f"{self.system} answered HTTP {status} without a SOAP body")
        if content.tag == f"{{{SOAP11_NS}}}Fault":
            fault = parse_fault(content)
            if fault.code == "Client":
                raise TargetRejected(f"{self.system} refused the request: {fault.string}")
            raise TargetUnavailable(f"{self.system} fault {fault.code}: {fault.string}")
        if status != 200:
            raise TargetUnavailable(f"{self.system} answered HTTP {status}")
        return content

    def close(self) -> None:
        self.http.close()
