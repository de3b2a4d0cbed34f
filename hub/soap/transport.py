"""Calling a partner's SOAP 1.1 endpoint: where transport outcomes become the hub's error classes.

| outcome | error | retried |
| --- | --- | --- |
| timeout | TargetTimeout | yes |
| connection refused / reset, DNS | TargetUnavailable | yes |
| HTTP 5xx, 404, 408, 429 without a SOAP answer | TargetUnavailable | yes |
| SOAP Fault `Server` (or any code but `Client`) | TargetUnavailable | yes |
| SOAP Fault `Client` | TargetRejected | no |
| any other HTTP status without a SOAP answer | TargetRejected | no |

Each calling thread keeps its own connection to the target alive (`http.client`: no pool to share
between threads and no framework between the worker and the socket, on a path every batch takes). A kept
connection the target has meanwhile closed is opened again once, before anything was answered;
the target is called with the record's own id, so a request it saw twice does no harm. TLS trusts
what httpx trusts (certifi, or `SSL_CERT_FILE`).
"""

from __future__ import annotations

import http.client
import threading
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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
_UNREACHABLE = (OSError, http.client.HTTPException)  # refused, reset, DNS, a broken answer


class _Kept(threading.local):
    connection: http.client.HTTPConnection | None = None


class SoapTransport:
    def __init__(
        self,
        endpoint: str,
        *,
        system: str,
        timeout: float,
        signer: Signer | None = None,
        max_response_bytes: int = 32 << 20,
    ) -> None:
        self.endpoint = endpoint
        self.system = system
        self.signer = signer
        self.parser = HardenedParser(max_bytes=max_response_bytes, max_depth=32)
        self.timeout = timeout
        self.connect_timeout = min(timeout, 5.0)
        url = urlsplit(endpoint)
        self._https = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._https else 80)
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._tls = httpx.create_ssl_context() if self._https else None
        self._kept = _Kept()
        self._opened: list[http.client.HTTPConnection] = []  # every thread's, for `close`
        self._lock = threading.Lock()

    @classmethod
    def to(cls, system: str, settings: TargetSettings) -> SoapTransport:
        """A target's transport as its settings say."""
        return cls(settings.endpoint, system=system, timeout=settings.timeout_seconds, signer=settings.signer)

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
        request = build_envelope(body, header, self.signer)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action}"'}
        try:
            status, content = self._post(request, headers)
        except TimeoutError as exc:
            raise TargetTimeout(f"{self.system} did not answer in time ({type(exc).__name__})") from exc
        except _UNREACHABLE as exc:
            raise TargetUnavailable(f"{self.system} unreachable: {type(exc).__name__}: {exc}") from exc
        return self._answer(status, content)

    def _post(self, request: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """On this thread's kept connection; a fresh one once if the kept one was closed under it."""
        kept = self._kept.connection
        connection = kept or self._connect()
        try:
            return self._exchange(connection, request, headers)
        except TimeoutError:
            self._drop(connection)
            raise
        except _UNREACHABLE:
            self._drop(connection)
            if kept is None:
                raise
        connection = self._connect()
        try:
            return self._exchange(connection, request, headers)
        except BaseException:
            self._drop(connection)
            raise

    def _exchange(
        self, connection: http.client.HTTPConnection, request: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        connection.request("POST", self._path, request, headers)
        response = connection.getresponse()
        return response.status, response.read()

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self.connect_timeout)
        try:
            connection.connect()
        except BaseException:
            connection.close()
            raise
        assert connection.sock is not None
        connection.sock.settimeout(self.timeout)  # connected: from now on, the call's own timeout
        connection.timeout = self.timeout
        self._kept.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if self._kept.connection is connection:
            self._kept.connection = None
        with self._lock:
            if connection in self._opened:
                self._opened.remove(connection)

    def _answer(self, status: int, content: bytes) -> etree._Element:
        try:
            root = self.parser.parse(content)
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
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
