"""The one table from transport outcomes to error classes, against a real HTTP server."""

from __future__ import annotations

import asyncio
import socket

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
