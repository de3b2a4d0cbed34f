"""A partner system's SOAP endpoint, for the simulators: real HTTP, the system's own WSDL and XSD,
requests validated and dispatched by body element, answers with the VISS header echoed.

With a `verifier` the endpoint serves only calls the hub signed, as a state system would.
Knobs for fault tests, settable at start or through `POST /_sim/config`: latency, a share of
calls answered with a SOAP Server fault (HTTP 500), and a share handled but answered too late (a
client timeout). `GET /_sim/stats` counts calls and injected faults, plus what the system adds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.contracts.wsdl import served_wsdl
from hub.errors import Unauthenticated, ValidationFailed
from hub.http_server import schema_files_route
from hub.settings import PROJECT_ROOT
from hub.soap import Fault, build_envelope, fault_from_error, parse_envelope
from hub.soap.signature import SignatureVerifier
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

SCHEMAS = PROJECT_ROOT / "schemas"
Handler = Callable[[etree._Element], etree._Element]


@dataclass
class Knobs:
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0


class SoapServer:
    def __init__(
        self,
        *,
        system: str,
        schema: str,
        wsdl: str,
        handlers: Mapping[str, Handler],
        knobs: Knobs | None = None,
        seed: int | None = None,
        count: Callable[[str, int], None] | None = None,
        stats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """`schema` and `wsdl` are paths under schemas/; `handlers` map body elements to answers;
        `count` and `stats` let a simulator keep its counters in its own store."""
        self.system = system
        self.schema = Schema(SCHEMAS / schema)
        self.wsdl = wsdl
        self.handlers = dict(handlers)
        self.knobs = knobs or Knobs()
        self.parser = HardenedParser(max_bytes=32 * 1024 * 1024, max_depth=32)
        self.rng = random.Random(seed)
        self.extra_stats = stats
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._count = count
        self.verifier: SignatureVerifier | None = None  # when set, only the hub's signed calls are served

    def count(self, name: str, by: int = 1) -> None:
        if self._count is not None:
            self._count(name, by)
            return
        with self._lock:
            self.counts[name] += by

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"/soap/{self.system}", self.soap, methods=["GET", "POST"]),
                schema_files_route(SCHEMAS),
                Route("/_sim/stats", self.stats, methods=["GET"]),
                Route("/_sim/config", self.configure, methods=["POST"]),
            ]
        )

    async def soap(self, request: Request) -> Response:
        if request.method == "GET":
            base = str(request.base_url).rstrip("/")
            document = served_wsdl((SCHEMAS / self.wsdl).read_bytes(), self.wsdl, base, f"{base}/soap/{self.system}")
            return Response(document, media_type="text/xml; charset=utf-8")
        body = await request.body()
        if self.knobs.latency_ms:
            await asyncio.sleep(self.knobs.latency_ms / 1000)
        header = None
        try:
            self.count("calls")
            draw = self.rng.random()
            if draw < self.knobs.fault_rate:
                self.count("faults_injected")
                raise Fault("Server", f"{self.system} is temporarily overloaded", "target_unavailable", True)
            root = self.parser.parse(body)
            message = parse_envelope(root)
            header = message.read_header() if message.message_header is not None else None
            if self.verifier is not None and (signer := self.verifier.verify(message)) != "hub":
                raise Unauthenticated.single("Envelope/Header/Security", "signer-mismatch", f"signed by {signer}")
            handler = self.handlers.get(message.content.tag)
            if handler is None:
                raise ValidationFailed.single(
                    etree.QName(message.content).localname, "unknown-operation", f"{self.system} does not offer this"
                )
            errors = self.schema.errors(message.content)
            if errors:
                raise ValidationFailed(errors)
            answer = await run_in_threadpool(handler, message.content)
            if draw < self.knobs.fault_rate + self.knobs.timeout_rate:
                self.count("timeouts_injected")
                await asyncio.sleep(self.knobs.timeout_seconds)  # handled, but the answer comes too late
            return Response(build_envelope(answer, header), media_type="text/xml; charset=utf-8")
        except Exception as exc:
            fault = fault_from_error(exc)
            return Response(
                build_envelope(fault.to_element(), header), status_code=500, media_type="text/xml; charset=utf-8"
            )

    async def stats(self, request: Request) -> Response:
        with self._lock:
            counts = dict(self.counts)
        extra = self.extra_stats() if self.extra_stats else {}
        names = ("calls", "faults_injected", "timeouts_injected")
        return JSONResponse({**{n: counts.get(n, 0) for n in names}, **extra})

    async def configure(self, request: Request) -> Response:
        values = json.loads(await request.body() or b"{}")
        for item in dataclasses.fields(self.knobs):
            if item.name in values:
                current = getattr(self.knobs, item.name)
                setattr(self.knobs, item.name, type(current)(values[item.name]))
        return JSONResponse(dataclasses.asdict(self.knobs))
