"""Delivering to SPOLIS: one SOAP call per batch of records, each record answered on its own.

Each record is checked against SPOLIS's XSD before it leaves, so a mapping bug fails one record
with a clear reason instead of SPOLIS refusing the whole batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lxml import etree

from adapters.spolis.outbound import ANSWER, NS, from_envelope, submission
from hub.envelope import Envelope
from hub.errors import TargetUnavailable
from hub.soap.transport import SoapTransport
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.schema import Schema

_OUTCOMES = {"PIENEMTS": "delivered", "DUBLIKATS": "duplicate", "NORAIDITS": "rejected"}
SOAP_ACTION = "urn:lv:lm:spolis:ielade:service:v1#IesniegtIerakstus"


class SpolisTarget:
    def __init__(self, settings: TargetSettings) -> None:
        self.schema = Schema(settings.schemas_dir / "spolis" / "spolis-v1.xsd")
        self.transport = SoapTransport(settings.endpoint, system="spolis", timeout=settings.timeout_seconds)

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
            answer = self.transport.call(submission(items), soap_action=SOAP_ACTION)
            if answer.tag != ANSWER:
                raise TargetUnavailable(f"SPOLIS answered {answer.tag}, not IesniegtIerakstusAtbilde")
            results.extend(self._results(answer))
        return results

    @staticmethod
    def _results(answer: etree._Element) -> list[DeliveryResult]:
        results = []
        for item in answer.iterfind(f"{{{NS}}}Rezultats"):
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
        self.transport.close()
