"""Asking VDEĀVK's GetUniversalServiceDataIS about one person."""

from __future__ import annotations

from lxml import etree

from adapters.vdeavk.dialect import ANSWER, SERVICE_NS, answer_from_xml, query_to_xml
from hub.canonical.queries import Answer, CanonicalQuery
from hub.soap.query import SoapQueryTarget
from hub.systems import TargetSettings


class VdeavkQueries:
    system = "vdeavk"
    title = "VDEĀVK"
    schema = "vdeavk/vdeavk-v1.xsd"

    def request(self, query: CanonicalQuery) -> tuple[etree._Element, str, str]:
        return query_to_xml(query), f"{SERVICE_NS}#GetUniversalServiceDataIS", ANSWER

    def answer(self, query: CanonicalQuery, element: etree._Element) -> Answer:
        return answer_from_xml(element)


def VdeavkTarget(settings: TargetSettings) -> SoapQueryTarget:  # noqa: N802 - a target factory, named like one
    return SoapQueryTarget(settings, VdeavkQueries())
