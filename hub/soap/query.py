"""Asking a system about one person: one SOAP call per query, the end user and the purpose in the
VISS header, the answer held against the system's XSD before it is believed. VSAA's e-services and
VDEĀVK's GetUniversalServiceDataIS have this shape; an adapter gives its dialect."""

from __future__ import annotations

from typing import Protocol

from lxml import etree

from hub.canonical.queries import Answer, CanonicalQuery
from hub.envelope import Envelope
from hub.errors import TargetUnavailable
from hub.soap.transport import SoapTransport
from hub.systems import TargetSettings
from hub.xml.schema import Schema


class QueryDialect(Protocol):
    system: str
    title: str  # how a Fault names the system
    schema: str  # under schemas/

    def request(self, query: CanonicalQuery) -> tuple[etree._Element, str, str]:
        """The query's body element, its SOAP action, and the answer's body element expected."""
        ...

    def answer(self, query: CanonicalQuery, element: etree._Element) -> Answer: ...


class SoapQueryTarget:
    def __init__(self, settings: TargetSettings, dialect: QueryDialect) -> None:
        self.dialect = dialect
        self.schema = Schema(settings.schemas_dir / dialect.schema)
        self.transport = SoapTransport.to(dialect.system, settings)

    def answer(self, envelope: Envelope) -> Answer:
        query = envelope.query()
        body, soap_action, expected = self.dialect.request(query)
        answer = self.transport.call(body, soap_action=soap_action, user_id=envelope.user_id, purpose=query.purpose)
        if answer.tag != expected or not self.schema.is_valid(answer):
            name = etree.QName(expected).localname
            raise TargetUnavailable(f"{self.dialect.title} answered {answer.tag}, not a valid {name}")
        return self.dialect.answer(query, answer)

    def close(self) -> None:
        self.transport.close()
