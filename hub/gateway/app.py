"""The gateway's HTTP surface: SOAP endpoints, WSDLs and schemas, metrics, health.

A request goes in three steps, named so everywhere: read (`Reader`), stage (`Reception`), publish
(here). Data loads are read and staged in worker threads, or in the processes of the gateway's pool
when it has one, so the event loop stays free for other requests and health checks; a small request
(a per-person query, a status question) is read on the loop, where it takes less time than the hop
to a thread and back. The receipt is answered only after the broker confirmed every record. Every
answer, a Fault too, is signed with the hub's key when signatures are on, and echoes the request's
header once it was read, whichever step refused it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from lxml import etree
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hub import logs, metrics
from hub.broker.broker import Publisher
from hub.contracts.wsdl import served_wsdl
from hub.errors import BrokerUnavailable, ValidationFailed
from hub.gateway.pool import ReceptionPool
from hub.gateway.queries import QueryDesk
from hub.gateway.reader import Load, Query, RequestContext, StatusQuestion
from hub.gateway.reception import Copy, Reception, Staged, Taken
from hub.gateway.responses import status_element
from hub.http_server import schema_files_route
from hub.soap import build_envelope, fault_from_error
from hub.soap.faults import fault_record
from hub.soap.signature import Signer
from hub.store.status import StatusStore
from hub.systems import SystemAdapter

log = logging.getLogger(__name__)

Readiness = dict[str, dict[str, object]]
"""{"checks": {name: bool}, and any detail, e.g. "circuits": {target: state}}; ready when every check holds."""


SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
# Requests up to this size (a signed query, not a data load) are read on the event loop: their parse
# and checks are short, and handing them to a thread or a process would cost them more than it saves.
INLINE_READ_BYTES = 16 << 10
COPY_POLL_SECONDS = 0.05  # how often a copy of a load being taken looks for its first's outcome


class Gateway:
    def __init__(
        self,
        *,
        systems: Mapping[str, SystemAdapter],
        reception: Reception,
        publisher: Publisher,
        schemas_dir: Path,
        max_request_bytes: int,
        publish_timeout: float,
        readiness: Callable[[], Readiness],
        queries: QueryDesk,
        pool: ReceptionPool | None = None,
        signer: Signer | None = None,
    ) -> None:
        """`pool`: processes that read and stage data loads; without one, the gateway's threads do.
        `signer`: the hub's own, signing every answer."""
        self.systems = {name: s for name, s in systems.items() if s.calls_hub}
        self.queries = queries
        self.reader = reception.reader
        self.reception = reception
        self.publisher = publisher
        self.store: StatusStore = reception.store
        self.signer = signer
        self.schemas_dir = schemas_dir.resolve()
        self.max_request_bytes = max_request_bytes
        self.publish_timeout = publish_timeout
        self.readiness = readiness
        self.pool = pool
        # Loads taken in threads, two at a time: one GIL runs one thread's Python while the other overlaps
        # its I/O; more at once only take turns on the GIL and starve the publisher's thread.
        self._taking = asyncio.Semaphore(2)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/soap/{system}", self.soap, methods=["GET", "POST"]),
                schema_files_route(self.schemas_dir),
                *operations_routes(self.readiness),
            ]
        )

    # -- SOAP ------------------------------------------------------------------------------

    async def soap(self, request: Request) -> Response:
        system = request.path_params["system"]
        if system not in self.systems:
            return PlainTextResponse(f"no SOAP service for {system!r}\n", status_code=404)
        if request.method == "GET":
            if "wsdl" in {key.lower() for key in request.query_params.keys()}:
                return self._wsdl(system, str(request.base_url).rstrip("/"))
            return PlainTextResponse("POST SOAP 1.1 here; the WSDL is at ?wsdl\n", status_code=405)

        started = time.perf_counter()
        context = RequestContext(system)
        try:
            taken = await self._take(context, await self._read_body(request))
            header = taken.header
            # this request's task only: every line about it names its MessageID and CorrelationID
            logs.message_id.set(str(header.message_id))
            logs.correlation_id.set(str(header.correlation_id or header.message_id))
            if isinstance(taken, StatusQuestion):
                answer = build_envelope(await self._status(system, taken), header, self.signer)
            elif isinstance(taken, Query):
                answer = build_envelope(await self.queries.ask(taken), header, self.signer)
            elif isinstance(taken, Copy):
                answer = await self._answer_copy(taken)
            else:
                answer = await self._publish(system, taken)
            response = Response(answer, media_type=SOAP_CONTENT_TYPE)
            outcome = "ok"
        except Exception as exc:
            fault = fault_from_error(exc)
            outcome = fault.error_class
            self._log_refusal(context, exc, fault.error_class, fault.code)
            response = Response(
                build_envelope(fault.to_element(), context.header, self.signer),
                status_code=fault.http_status,
                media_type=SOAP_CONTENT_TYPE,
            )
        metrics.gateway_requests.labels(system, context.operation, outcome).inc()
        metrics.gateway_request_duration.labels(system, context.operation, outcome).observe(
            time.perf_counter() - started
        )
        return response

    @staticmethod
    def _log_refusal(context: RequestContext, exc: Exception, error_class: str, code: str) -> None:
        where = {"system": context.system, "operation": context.operation}
        if isinstance(exc, ValidationFailed):
            for error in exc.errors:
                metrics.validation_failures.labels(context.system, error.rule).inc()
            # who may do what is a security event; a malformed message is the sender's bug
            log.log(
                logging.INFO if error_class == "validation" else logging.WARNING,
                "request refused",
                extra={**where, "error_class": error_class, "rules": sorted({e.rule for e in exc.errors})},
            )
        elif code == "Server" and error_class == "internal":
            log.exception("request failed", extra=where)
        else:
            log.warning("request not accepted", extra={**where, "error_class": error_class})

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_request_bytes:
            raise ValidationFailed.single(
                "(document)", "max-size", f"request is {declared} bytes, the limit is {self.max_request_bytes}"
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/soap+xml":
            raise ValidationFailed.single("(document)", "soap-version", "SOAP 1.2 is not spoken here; use SOAP 1.1")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_request_bytes:
                raise ValidationFailed.single(
                    "(document)", "max-size", f"request exceeds the limit of {self.max_request_bytes} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _take(self, context: RequestContext, body: bytes) -> Taken:
        if len(body) > INLINE_READ_BYTES:
            if self.pool is not None:
                return await self.pool.take(context, body)
            async with self._taking:
                return await run_in_threadpool(self.reception.take, context, body)
        read = self.reader.read(context, body)
        if isinstance(read, Load):
            return await run_in_threadpool(self.reception.stage, read)  # the store's work
        await run_in_threadpool(self.reception.claim, context, read)
        return read

    async def _publish(self, system: str, staged: Staged) -> bytes:
        """The load's answer, once the broker confirmed its messages and its receipt is stored."""
        if staged.resend:
            return staged.answer  # the hub already holds it
        receipt = staged.receipt
        try:
            try:
                published = asyncio.wrap_future(self.publisher.publish(staged.messages))
                await asyncio.wait_for(published, self.publish_timeout)
            except TimeoutError:
                raise BrokerUnavailable(f"the broker did not confirm within {self.publish_timeout:.0f} s") from None
        except BaseException as exc:
            await run_in_threadpool(self.store.discard_pending, receipt.receipt_id, staged.holder, fault_record(exc))
            raise
        await run_in_threadpool(self.store.add_receipt, receipt, staged.header.user_id)
        for (flow, type_), count in staged.received.items():
            metrics.messages_received.labels(flow, system, type_).inc(count)
        log.info(
            "receipt given",
            extra={"system": system, "receipt_id": receipt.receipt_id, "records": receipt.record_count},
        )
        return staged.answer

    async def _answer_copy(self, copy: Copy) -> bytes:
        """A copy of a load another request is taking answers what that one answers, publishing nothing."""
        deadline = time.monotonic() + self.reception.stale_claim.total_seconds()
        while (answer := await run_in_threadpool(self.reception.answer_for, copy)) is None:
            if time.monotonic() > deadline:
                raise BrokerUnavailable("another copy of this load is still being taken; send it again later")
            await asyncio.sleep(COPY_POLL_SECONDS)
        log.info("a copy of a load answered as its first", extra={"receipt_id": copy.receipt_id})
        return answer

    async def _status(self, system: str, query: StatusQuestion) -> etree._Element:
        if query.receipt_id:
            status = await run_in_threadpool(self.store.receipt_status, query.receipt_id)
            field, value = "ReceiptID", query.receipt_id
        else:
            status = await run_in_threadpool(self.store.message_status, query.message_id)
            field, value = "MessageID", query.message_id
        if status is None or status.source != system:  # another system's receipt is not even said to exist
            raise ValidationFailed.single(f"GetStatus/{field}", "unknown-id", f"no receipt or record {value} is known")
        return status_element(status)

    # -- contracts -----------------------------------------------------------------------------

    def _wsdl(self, system: str, base_url: str) -> Response:
        location = self.systems[system].hub_wsdl
        path = self.schemas_dir / location
        if not path.is_file():
            return PlainTextResponse("no WSDL\n", status_code=404)
        document = served_wsdl(path.read_bytes(), location, base_url, f"{base_url}/soap/{system}")
        return Response(document, media_type="text/xml; charset=utf-8")


def operations_routes(readiness: Callable[[], Readiness]) -> list[Route]:
    """/metrics, /healthz and /readyz: every hub process serves them, with or without the gateway."""

    async def metrics(request: Request) -> Response:
        # Collecting reads the database (failed store, oldest record): never on the event loop.
        return Response(await run_in_threadpool(generate_latest), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        report = readiness()
        ready = all(report["checks"].values())
        return JSONResponse({"ready": ready, **report}, status_code=200 if ready else 503)

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
