"""Asking VSAA: one e-service call per query, the end user and the purpose in the VISS header."""

from __future__ import annotations

from adapters.vsaa.dialect import BY_TYPE, SERVICE_NS, answer_from_xml, query_to_xml
from hub.canonical.queries import Answer
from hub.envelope import Envelope
from hub.errors import TargetUnavailable
from hub.soap.transport import SoapTransport
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.schema import Schema


class VsaaTarget:
    def __init__(self, settings: TargetSettings) -> None:
        self.schema = Schema(settings.schemas_dir / "vsaa" / "vsaa-v1.xsd")
        self.transport = SoapTransport.to("vsaa", settings)

    def answer(self, envelope: Envelope) -> Answer:
        query = envelope.query()
        name, _, answer_element = BY_TYPE[query.TYPE]
        answer = self.transport.call(
            query_to_xml(query),
            soap_action=f"{SERVICE_NS}#{name}",
            user_id=envelope.user_id,
            purpose=query.purpose,
        )
        if answer.tag != answer_element or not self.schema.is_valid(answer):
            raise TargetUnavailable(f"VSAA answered {answer.tag}, not a valid {answer_element}")
        return answer_from_xml(query.TYPE, answer)

    def deliver(self, envelopes) -> list[DeliveryResult]:  # type: ignore[no-untyped-def]
        raise NotImplementedError("VSAA takes no records, only queries")

    def close(self) -> None:
        self.transport.close()
