"""Delivering to SPOLIS: one SOAP call per batch of records, each record answered on its own.

Each record is checked against SPOLIS's XSD before it leaves, so a mapping bug parks one record
with a clear reason instead of SPOLIS refusing the whole batch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import httpx
from lxml import etree

from adapters.spolis.outbound import ANSWER, NS, from_envelope, submission
from hub.envelope import Envelope
from hub.errors import TargetRejected, TargetTimeout, TargetUnavailable, ValidationFailed
from hub.soap import SOAP11_NS, MessageHeader, build_envelope, parse_fault
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

log = logging.getLogger(__name__)

_OUTCOMES = {"PIENEMTS": "delivered", "DUBLIKATS": "duplicate", "NORAIDITS": "rejected"}
SOAP_ACTION = '"urn:lv:lm:spolis:ielade:service:v1#IesniegtIerakstus"'


class SpolisTarget:
    def __init__(self, settings: TargetSettings) -> None:
        self.endpoint = settings.endpoint
        self.schema = Schema(settings.schemas_dir / "spolis" / "spolis-v1.xsd")
        self.parser = HardenedParser(max_bytes=32 * 1024 * 1024, max_depth=16)
        self.http = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_seconds, connect=min(settings.timeout_seconds, 5.0)),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )

    def deliver(self, envelopes: Sequence[Envelope]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        items = []
        for envelope in envelopes:
            try:
                item = from_envelope(envelope)
            except (ValueError, LookupError, TypeError) as exc:
                results.append(DeliveryResult(envelope.message_id, "rejected", f"cannot map to SPOLIS: {exc}"))
                continue
            errors = self.schema.errors(item, limit=3)
            if errors:
                reason = "; ".join(f"{e.field}: {e.rule}" for e in errors)
                results.append(DeliveryResult(envelope.message_id, "rejected", f"not valid for SPOLIS: {reason}"))
                continue
            items.append(item)
        if items:
            results.extend(self._call(submission(items)))
        return results

    def _call(self, request: etree._Element) -> list[DeliveryResult]:
        header = MessageHeader(
            message_id=uuid.uuid4(),
            message_type=MessageHeader.message_type_of(request),
            sender="hub",
            destination="spolis",
            user_id="welfare-hub",
        )
        try:
            response = self.http.post(
                self.endpoint,
                content=build_envelope(request, header),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION},
            )
        except httpx.TimeoutException as exc:
            raise TargetTimeout(f"SPOLIS did not answer in time: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TargetUnavailable(f"SPOLIS unreachable: {type(exc).__name__}: {exc}") from exc
        return self._results(response)

    def _results(self, response: httpx.Response) -> list[DeliveryResult]:
        try:
            root = self.parser.parse(response.content)
        except ValidationFailed:
            if response.status_code >= 500 or response.status_code in (404, 408, 429):
                raise TargetUnavailable(f"SPOLIS answered HTTP {response.status_code}") from None
            raise TargetRejected(f"SPOLIS answered HTTP {response.status_code} without SOAP") from None
        body = root.find(f"{{{SOAP11_NS}}}Body")
        content = body[0] if body is not None and len(body) else None
        if content is not None and content.tag == f"{{{SOAP11_NS}}}Fault":
            fault = parse_fault(content)
            if fault.code == "Client":
                raise TargetRejected(f"SPOLIS refused the request: {fault.string}")
            raise TargetUnavailable(f"SPOLIS fault {fault.code}: {fault.string}")
        if content is None or content.tag != ANSWER or response.status_code != 200:
            raise TargetUnavailable(f"SPOLIS answered HTTP {response.status_code} with no IesniegtIerakstusAtbilde")
        results = []
        for item in content.iterfind(f"{{{NS}}}Rezultats"):
            outcome = _OUTCOMES.get(item.findtext(f"{{{NS}}}Statuss") or "", "rejected")
            reason = item.find(f"{{{NS}}}Iemesls")
            results.append(
                DeliveryResult(
                    uuid.UUID(item.findtext(f"{{{NS}}}ZinojumaId")),
                    outcome,  # type: ignore[arg-type]
                    f"{reason.get('kods')}: {reason.text}" if reason is not None else None,
                )
            )
        return results

    def close(self) -> None:
        self.http.close()
