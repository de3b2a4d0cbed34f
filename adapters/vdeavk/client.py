"""Asking VDEĀVK's GetUniversalServiceDataIS for one person, the end user and purpose in the header."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.vdeavk.dialect import ANSWER, SERVICE_NS, answer_from_xml, query_to_xml
from hub.canonical.queries import Answer
from hub.envelope import Envelope
from hub.errors import TargetUnavailable
from hub.soap.transport import SoapTransport
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.schema import Schema


class VdeavkTarget:
    def __init__(self, settings: TargetSettings) -> None:
        self.schema = Schema(settings.schemas_dir / "vdeavk" / "vdeavk-v1.xsd")
        self.transport = SoapTransport.to("vdeavk", settings)

    def answer(self, envelope: Envelope) -> Answer:
        query = envelope.query()
        answer = self.transport.call(
            query_to_xml(query),
            soap_action=f"{SERVICE_NS}#GetUniversalServiceDataIS",
            user_id=envelope.user_id,
            purpose=query.purpose,
        )
        if answer.tag != ANSWER or not self.schema.is_valid(answer):
            raise TargetUnavailable(f"VDEĀVK answered {answer.tag}, not a valid GetUniversalServiceDataISResponse")
        return answer_from_xml(answer)

    def deliver(self, envelopes: Sequence[Envelope]) -> list[DeliveryResult]:
        raise NotImplementedError("VDEĀVK takes no records through the hub, only queries")

    def close(self) -> None:
        self.transport.close()
