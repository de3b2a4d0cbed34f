"""Delivering records to a system that takes them in batches and answers each one: SPOLIS's data
load, BURVIS's duties intake, the municipal systems' profiling intake all have this shape.

An adapter gives its dialect (one record to XML, a batch request, the per-record answers); every
record is checked against the target's XSD before it leaves, so a mapping bug fails that record
with a clear reason instead of the target refusing the whole batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lxml import etree

from hub.envelope import Envelope
from hub.errors import TargetUnavailable
from hub.soap.transport import SoapTransport
from hub.systems import DeliveryResult, TargetSettings
from hub.xml.fields import Table
from hub.xml.schema import Schema


class BatchDialect(Protocol):
    system: str
    schema: str  # under schemas/
    soap_action: str
    answer: str  # the answer's body element

    def item(self, envelope: Envelope) -> etree._Element: ...

    def request(self, items: Sequence[etree._Element]) -> etree._Element: ...

    def results(self, answer: etree._Element) -> list[DeliveryResult]: ...


@dataclass(frozen=True)
class TableBatch:
    """A batch dialect told by field tables alone: an item is the envelope's `message` fields and
    the record's `record` fields on one element; the answer holds a `result` element per item with
    `message_id`, `outcome` and `reason`. Both sides read it: the hub's target and the system's
    simulator, so the two cannot drift apart."""

    system: str
    schema: str  # under schemas/
    soap_action: str
    nsmap: Mapping[str, str]
    request_tag: str
    answer: str
    item_tag: str
    result_tag: str
    message: Table
    record: Table
    result: Table
    record_type: type

    def item(self, envelope: Envelope) -> etree._Element:
        record = envelope.record()
        if not isinstance(record, self.record_type):
            raise TypeError(f"{self.system} takes {self.record_type.__name__}, not {type(record).__name__}")
        item = self.message.write(etree.Element(self.item_tag, nsmap=dict(self.nsmap)), envelope)
        return self.record.write(item, record)

    def request(self, items: Sequence[etree._Element]) -> etree._Element:
        request = etree.Element(self.request_tag, nsmap=dict(self.nsmap))
        request.extend(items)
        return request

    def results(self, answer: etree._Element) -> list[DeliveryResult]:
        results = []
        for r in answer.iterchildren(self.result_tag):
            v = self.result.read(r)
            results.append(DeliveryResult(uuid.UUID(v["message_id"]), v["outcome"] or "rejected", v["reason"]))
        return results

    def items(self, request: etree._Element) -> Iterator[tuple[etree._Element, dict[str, Any], dict[str, Any]]]:
        """The system's side: each item with its message fields and its record fields."""
        for item in request.iterchildren(self.item_tag):
            yield item, self.message.read(item), self.record.read(item)

    def answer_with(self, results: Iterable[DeliveryResult]) -> etree._Element:
        """The system's side: the answer to a request, one result per item."""
        answer = etree.Element(self.answer, nsmap=dict(self.nsmap))
        for result in results:
            self.result.write(etree.SubElement(answer, self.result_tag), result)
        return answer


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
