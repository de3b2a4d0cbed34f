"""The one table from transport outcomes to error classes, against a real HTTP server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from hub.errors import TargetRejected, TargetTimeout, TargetUnavailable, classify
from hub.http_server import ServerThread
from hub.soap import build_envelope
from hub.soap.faults import Fault
from hub.soap.transport import SoapTransport

ANSWER = etree.fromstring(b'<a:Ok xmlns:a="urn:test"/>')


def fault(code: str) -> bytes:
    return build_envelope(Fault(code, "because", "x", code != "Client").to_element())


SCENARIOS = {
    "ok": (200, build_envelope(ANSWER)),
    "client-fault": (500, fault("Client")),
    "server-fault": (500, fault("Server")),
    "bad-gateway": (502, b"<html>proxy</html>"),
    "not-found": (404, b"nope"),
    "forbidden": (403, b"no"),
    "garbage-200": (200, b"\x00garbage"),
}


async def answer(request):  # type: ignore[no-untyped-def]
    name = request.path_params["name"]
    if name == "slow":
        await asyncio.sleep(2)
        return Response(build_envelope(ANSWER), media_type="text/xml")
    status, body = SCENARIOS[name]
    return Response(body, status_code=status, media_type="text/xml")


@pytest.fixture(scope="module")
def server():
    thread = ServerThread(Starlette(routes=[Route("/{name}", answer, methods=["POST"])])).start()
    yield thread
    thread.stop()


def call(server, name: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    transport = SoapTransport(f"{server.url}/{name}", system="spolis", timeout=timeout)
    try:
        return transport.call(etree.fromstring(b'<a:Do xmlns:a="urn:test"/>'), soap_action="urn:test#Do")
    finally:
        transport.close()


def test_a_soap_answer_comes_back(server):
    assert call(server, "ok").tag == "{urn:test}Ok"


@pytest.mark.parametrize(
    ("name", "error", "permanent"),
    [
        ("client-fault", TargetRejected, True),
        ("server-fault", TargetUnavailable, False),
        ("bad-gateway", TargetUnavailable, False),
        ("not-found", TargetUnavailable, False),
        ("forbidden", TargetRejected, True),
        ("garbage-200", TargetUnavailable, False),
    ],
)
def test_outcomes_map_to_error_classes(server, name, error, permanent):
    with pytest.raises(error) as caught:
        call(server, name)
    assert classify(caught.value)[1] is permanent


def test_timeouts_and_refused_connections_are_transient(server):
    with pytest.raises(TargetTimeout):
        call(server, "slow", timeout=0.3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    transport = SoapTransport(f"http://127.0.0.1:{port}/x", system="spolis", timeout=1)
    with pytest.raises(TargetUnavailable) as caught:
        transport.call(etree.fromstring(b"<a/>"), soap_action="x")
    assert classify(caught.value) == ("target_unavailable", False)


class CountingServer:
    """Answers `ok` to every request, counting the connections it accepted; `close_after` closes a
    connection after that many answers without saying so (an idle timeout at the target)."""

    def __init__(self, close_after: int | None = None) -> None:
        self.close_after = close_after
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/x"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        body = build_envelope(ANSWER)
        with connection, connection.makefile("rb") as reader:
            answered = 0
            while self.close_after is None or answered < self.close_after:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                reader.read(length)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                answered += 1

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("close_after", [None, 1])
def test_a_thread_keeps_its_connection_and_opens_it_again_when_the_target_closed_it(close_after):
    server = CountingServer(close_after)
    transport = SoapTransport(server.url, system="spolis", timeout=2)
    try:
        for _ in range(3):
            assert transport.call(etree.fromstring(b"<a/>"), soap_action="x").tag == "{urn:test}Ok"
            time.sleep(0.05)  # the target's close reaches this side before the next call
    finally:
        transport.close()
        server.close()
    assert server.connections == (1 if close_after is None else 3)
