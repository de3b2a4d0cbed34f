"""Reading a request: from the bytes of a SOAP message to what it asks the hub to do, without I/O.

Order matters and is the contract: parse (hardened, bounded) -> the SOAP 1.1 envelope's structure
(one of each part, in its place) -> the signature over those parts (who sent it) -> the VISS header
they carry, against its XSD -> body against the system's XSD -> adapter to canonical records
(validated whole) -> access table -> routes -> one envelope per record. Nothing a request says is
acted on before its signature is checked; any step refuses with field and rule, and the request's
CPU budget is checked between the steps. What the reader learns of the request (its header, its
operation) goes into the request's context as it learns it: whatever refuses the request later, the
Fault echoes that header and the metrics name that operation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from lxml import etree

from hub.canonical.mapping import Parsed
from hub.envelope import Envelope, EnvelopeFields, envelope_fields, utcnow
from hub.errors import FieldError, Unauthenticated, ValidationFailed
from hub.gateway.budget import Budget
from hub.rules.access import AccessTable
from hub.rules.routing import Router
from hub.soap import HUB_NS, MessageHeader, SoapMessage, parse_envelope
from hub.soap.header import HEADER_PATH
from hub.soap.signature import SignatureVerifier
from hub.store.status import RecordRow
from hub.systems import Service, SystemAdapter
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

STATUS_ELEMENT = f"{{{HUB_NS}}}GetStatus"
_RECORD_IDS = uuid.UUID("6f1c7f3e-8a52-4f0e-9a7e-2b1d7c1e5a10")


def record_message_ids(receipt_id: uuid.UUID) -> Callable[[int], uuid.UUID]:
    """Stable per record: a resend of the same request yields the same ids, so targets dedupe it.

    A UUID of version 8 (RFC 9562, made by our own rule): its first half hashes the receipt, its
    second the receipt and the record's index. A load's ids therefore sit together in the status
    index, and a load's commit writes a few of its pages: random ones would rewrite a page per record.
    Loads stored (pending) with ids of an earlier rule keep theirs (see `Reception`)."""
    prefix = _RECORD_IDS.bytes + f"{receipt_id}/".encode()
    load = hashlib.sha1(prefix, usedforsecurity=False).digest()[:8]

    def of(index: int) -> uuid.UUID:
        raw = bytearray(load + hashlib.sha1(prefix + str(index).encode(), usedforsecurity=False).digest()[:8])
        raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
        raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC's variant
        return uuid.UUID(bytes=bytes(raw))

    return of


@dataclass
class RequestContext:
    """One request as the gateway knows it so far: who sent it, its header once read, its operation."""

    system: str
    header: MessageHeader | None = None
    operation: str = "unknown"


@dataclass(frozen=True)
class StatusQuestion:
    header: MessageHeader
    receipt_id: str | None
    message_id: str | None


@dataclass(frozen=True)
class Handler:
    """What a body element is for its sender: one of its own operations, or a service another
    system offers through the hub (validated by that system's schema)."""

    name: str
    owner: SystemAdapter
    to_canonical: Callable[[etree._Element], list[Parsed]]
    service: Service | None = None

    @property
    def is_query(self) -> bool:
        return self.service is not None and self.service.kind == "query"


@dataclass(frozen=True)
class Query:
    header: MessageHeader
    handler: Handler
    envelope: Envelope
    deadline_seconds: float

    @property
    def service(self) -> Service:
        assert self.handler.service is not None
        return self.handler.service


@dataclass(frozen=True)
class Load:
    """A data load as read: its records' envelopes and status rows, in record order, not yet staged
    (their ids may still change to those a resend was stored with, a correction's revision is not yet
    known) and not yet sealed."""

    header: MessageHeader
    operation: str
    body_sha256: str
    envelopes: list[EnvelopeFields]
    rows: list[RecordRow]
    notes_corrections: bool  # a record type the sender may send again as a correction
    request: bytes  # as the sender sent it: kept (sealed) as the original of its records

    @property
    def receipt_id(self) -> str:
        return str(self.header.message_id)


Read = Load | Query | StatusQuestion


class Reader:
    def __init__(
        self,
        *,
        systems: Mapping[str, SystemAdapter],
        schemas: Mapping[str, Schema],
        header_schema: Schema,
        parser: HardenedParser,
        router: Router,
        access: AccessTable,
        max_records: int,
        verifier: SignatureVerifier | None,
        cpu_seconds: float = 2.0,
    ) -> None:
        """`verifier`: who signed each request; None only where signatures are off (closed test
        networks) or nothing is sent (the offline contract kit). `cpu_seconds`: each request's budget."""
        self.systems = systems
        self.schemas = schemas
        self.header_schema = header_schema
        self.parser = parser
        self.router = router
        self.access = access
        self.max_records = max_records
        self.verifier = verifier
        self.cpu_seconds = cpu_seconds
        # how long a query's MessageID stays used: while a signed copy of it could be accepted
        self.replay_window = verifier.replay_window if verifier else dt.timedelta(minutes=10)
        self._services = {
            service.element: Handler(service.name, owner, service.to_canonical, service)
            for owner in systems.values()
            for service in owner.services
        }

    def read(self, context: RequestContext, data: bytes) -> Read:
        system = self.systems[context.system]
        budget = Budget(self.cpu_seconds)
        message = parse_envelope(self.parser.parse(data))
        if message.message_header is None:
            raise ValidationFailed.single(HEADER_PATH, "required", "the VISS MessageHeader is missing")
        budget.spent("parsing")
        self._authenticate(message, context.system)
        budget.spent("signature")
        context.header = header = self._header(message.message_header, context.system)
        body = message.content
        if body.tag == STATUS_ELEMENT:
            context.operation = "GetStatus"
            return self._status_question(header, body)
        handler = self._handler(system, body)
        context.operation = handler.name
        read = self._handled(system, header, handler, body, budget)
        return replace(read, request=data) if isinstance(read, Load) else read

    def _authenticate(self, message: SoapMessage, system_name: str) -> None:
        if self.verifier is None:
            return
        signer = self.verifier.verify(message)
        if signer != system_name:
            raise Unauthenticated.single(
                f"{HEADER_PATH}/Sender",
                "signer-mismatch",
                f"the message is signed by {signer}, but sent as {system_name}",
            )

    def _handled(
        self, system: SystemAdapter, header: MessageHeader, handler: Handler, body: etree._Element, budget: Budget
    ) -> Load | Query:
        if header.message_type != MessageHeader.message_type_of(body):
            raise ValidationFailed.single(
                f"{HEADER_PATH}/MessageType",
                "message-type-mismatch",
                f"MessageType must be {MessageHeader.message_type_of(body)} for this body",
            )
        errors = self.schemas[handler.owner.name].errors(body)
        if errors:
            raise ValidationFailed(errors)
        budget.spent("schema validation")
        records = handler.to_canonical(body)
        budget.spent("mapping")
        self.access.check(system.name, (record.TYPE for record, _ in records), etree.QName(body).localname)
        if handler.is_query:
            return self._query(system.name, header, handler, records)
        if not records:
            raise ValidationFailed.single(etree.QName(body).localname, "min-records", "the load holds no records")
        if len(records) > self.max_records:
            raise ValidationFailed.single(
                etree.QName(body).localname,
                "max-records",
                f"{len(records)} records in one request; the limit is {self.max_records}",
            )
        return self._load(system.name, header, handler, body, records)

    def _header(self, element: etree._Element, system_name: str) -> MessageHeader:
        errors = self.header_schema.errors(element)
        if errors:
            raise ValidationFailed(
                [FieldError(f"Envelope/Header/{e.field}", e.rule, e.message, e.line) for e in errors]
            )
        header = MessageHeader.from_element(element)
        if header.sender != system_name:
            raise ValidationFailed.single(
                f"{HEADER_PATH}/Sender",
                "sender-mismatch",
                f"this endpoint is for {system_name}; the header says {header.sender}",
            )
        return header

    def _handler(self, system: SystemAdapter, body: etree._Element) -> Handler:
        operation = system.operation_for(body.tag)
        if operation is not None:
            return Handler(operation.name, system, operation.to_canonical)
        if body.tag in self._services:
            return self._services[body.tag]
        qname = etree.QName(body)
        known = [etree.QName(op.element) for op in system.operations] + [etree.QName(e) for e in self._services]
        for name in known:
            if name.localname == qname.localname:
                raise ValidationFailed.single(
                    qname.localname,
                    "namespace",
                    f"{qname.localname} must be in namespace {name.namespace}, not {qname.namespace}",
                )
        expected = ", ".join(etree.QName(op.element).localname for op in system.operations) or "no data loads"
        raise ValidationFailed.single(
            qname.localname,
            "unknown-operation",
            f"{system.name} may send {expected}, the services granted to it, or GetStatus here",
        )

    def _destination_is_the_hub(self, source: str, record: object, header: MessageHeader) -> bool:
        """Records routed by municipality may name the hub as their destination: the sender does not
        know which municipal system serves each."""
        return header.destination == "hub" and bool(self.router.route(record.TYPE).by_municipality)  # type: ignore[attr-defined]

    def _query(self, source: str, header: MessageHeader, handler: Handler, parsed: list[Parsed]) -> Query:
        if not header.purpose:
            raise ValidationFailed.single(
                f"{HEADER_PATH}/Purpose", "required", "a per-person query must say its purpose"
            )
        ((query, _),) = parsed
        route = self.router.route(query.TYPE)
        if route.target != header.destination:
            raise ValidationFailed.single(
                f"{HEADER_PATH}/Destination",
                "destination",
                f"{query.TYPE} is answered by {route.target}, but the header names {header.destination}",
            )
        envelope = Envelope.of(
            query.model_copy(update={"purpose": header.purpose}),
            source=source,
            target=route.target,
            user_id=header.user_id,
            correlation_id=header.message_id,
            flow=route.flow,
        )
        return Query(header, handler, envelope, route.deadline_seconds)

    @staticmethod
    def _status_question(header: MessageHeader, body: etree._Element) -> StatusQuestion:
        receipt_id = body.findtext(f"{{{HUB_NS}}}ReceiptID")
        message_id = body.findtext(f"{{{HUB_NS}}}MessageID")
        if not receipt_id and not message_id:
            raise ValidationFailed.single("GetStatus", "required", "give a ReceiptID or a MessageID")
        for field, value in (("ReceiptID", receipt_id), ("MessageID", message_id)):
            if value:
                try:
                    uuid.UUID(value.strip())
                except ValueError:
                    raise ValidationFailed.single(f"GetStatus/{field}", "pattern", "not a UUID") from None
        return StatusQuestion(
            header,
            receipt_id.strip().lower() if receipt_id else None,
            message_id.strip().lower() if message_id else None,
        )

    def _load(
        self,
        source: str,
        header: MessageHeader,
        handler: Handler,
        body: etree._Element,
        records: list[Parsed],
    ) -> Load:
        receipt_id = header.message_id
        now = utcnow()
        envelopes: list[EnvelopeFields] = []
        rows: list[RecordRow] = []
        tree = body.getroottree()
        message_id = record_message_ids(receipt_id)
        for index, (record, source_element) in enumerate(records, start=1):
            target = self.router.target_for(record)
            if target != header.destination and not self._destination_is_the_hub(source, record, header):
                raise ValidationFailed.single(
                    f"{HEADER_PATH}/Destination",
                    "destination",
                    f"{record.TYPE} from {source} goes to {target}, but the header names {header.destination}",
                )
            envelope = envelope_fields(
                record,
                source=source,
                target=target,
                user_id=header.user_id,
                correlation_id=receipt_id,
                flow=self.router.route(record.TYPE).flow,
                message_id=message_id(index),
                created_at=now,
            )
            envelopes.append(envelope)
            rows.append(
                RecordRow(
                    str(envelope["message_id"]),
                    index,
                    record.record_id,
                    target,
                    record.TYPE,
                    tree.getelementpath(source_element),
                )
            )
        digest = hashlib.sha256(etree.tostring(body, method="c14n", exclusive=True)).hexdigest()
        corrections = any(record.CORRECTIONS_NOTED for record, _ in records)
        return Load(header, handler.name, digest, envelopes, rows, corrections, b"")
