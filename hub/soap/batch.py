"""Delivering records to a system that takes them in batches and answers each one: SPOLIS's data
load, BURVIS's duties intake, the municipal systems' profiling intake all have this shape.

An adapter gives its dialect (one record to XML, a batch request, the per-record answers); every
record is checked against the target's XSD before it leaves, so a mapping bug fails that record
with a clear reason instead of the target refusing the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lxml import etree

from hub.envelope import Envelope
from hub.errors import TargetUnavailable
from hub.soap.transport import SoapTransport
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.schema import Schema


class BatchDialect(Protocol):
    system: str
    schema: str  # under schemas/
    soap_action: str
    answer: str  # the answer's body element

    def item(self, envelope: Envelope) -> etree._Element: ...

    def request(self, items: Sequence[etree._Element]) -> etree._Element: ...

    def results(self, answer: etree._Element) -> list[DeliveryResult]: ...


class BatchTarget:
    def __init__(self, settings: TargetSettings, dialect: BatchDialect) -> None:
        self.dialect = dialect
        self.schema = Schema(settings.schemas_dir / dialect.schema)
        self.transport = SoapTransport.to(dialect.system, settings)

    def deliver(self, envelopes: Sequence[Envelope]) -> list[DeliveryResult]:
        system = self.dialect.system
        results: list[DeliveryResult] = []
        items = []
        for envelope in envelopes:
            try:
                item = self.dialect.item(envelope)
            except (ValueError, LookupError, TypeError) as exc:
                results.append(DeliveryResult(envelope.message_id, "rejected", f"cannot map to {system}: {exc}"))
                continue
            errors = self.schema.errors(item, limit=3)
            if errors:
                reason = "; ".join(f"{e.field}: {e.rule}" for e in errors)
                results.append(DeliveryResult(envelope.message_id, "rejected", f"not valid for {system}: {reason}"))
                continue
            items.append(item)
        if items:
            answer = self.transport.call(self.dialect.request(items), soap_action=self.dialect.soap_action)
            if answer.tag != self.dialect.answer:
                raise TargetUnavailable(f"{system} answered {answer.tag}, not {self.dialect.answer}")
            results.extend(self.dialect.results(answer))
        return results

    def close(self) -> None:
        self.transport.close()
