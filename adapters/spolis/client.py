"""Delivering to SPOLIS: batches of records to its data load service, each answered on its own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from lxml import etree

from adapters.spolis.outbound import ANSWER, NS, from_envelope, submission
from hub.envelope import Envelope
from hub.soap.batch import BatchTarget
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.read import child_texts

_RESULT = f"{{{NS}}}Rezultats"
_REASON = f"{{{NS}}}Iemesls"
_OUTCOMES = {"PIENEMTS": "delivered", "DUBLIKATS": "duplicate", "NORAIDITS": "rejected"}


class SpolisDialect:
    system = "spolis"
    schema = "spolis/spolis-v1.xsd"
    soap_action = "urn:lv:lm:spolis:ielade:service:v1#IesniegtIerakstus"
    answer = ANSWER

    def item(self, envelope: Envelope) -> etree._Element:
        return from_envelope(envelope)

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        return submission(items)

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        results = []
        for item in answer.iterchildren(_RESULT):
            texts = child_texts(item, NS)  # one pass over the children: this runs for every record
            reason = item.find(_REASON) if "Iemesls" in texts else None
            results.append(
                DeliveryResult(
                    uuid.UUID(texts.get("ZinojumaId")),
                    _OUTCOMES.get(texts.get("Statuss", ""), "rejected"),  # type: ignore[arg-type]
                    f"{reason.get('kods')}: {reason.text}" if reason is not None else None,
                )
            )
        return results


def SpolisTarget(settings: TargetSettings) -> BatchTarget:  # noqa: N802 - a target factory, named like one
    return BatchTarget(settings, SpolisDialect())
