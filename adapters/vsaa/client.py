"""Asking VSAA: one e-service call (EP50, EP51, EP52) per query."""

from __future__ import annotations

from lxml import etree

from adapters.vsaa.dialect import BY_TYPE, SERVICE_NS, answer_from_xml, query_to_xml
from hub.canonical.queries import Answer, CanonicalQuery
from hub.soap.query import SoapQueryTarget
from hub.systems import TargetSettings


class VsaaQueries:
    system = "vsaa"
    title = "VSAA"
    schema = "vsaa/vsaa-v1.xsd"

    def request(self, query: CanonicalQuery) -> tuple[etree._Element, str, str]:
        name, _, answer_element = BY_TYPE[query.TYPE]
        return query_to_xml(query), f"{SERVICE_NS}#{name}", answer_element

    def answer(self, query: CanonicalQuery, element: etree._Element) -> Answer:
        return answer_from_xml(query.TYPE, element)


def VsaaTarget(settings: TargetSettings) -> SoapQueryTarget:  # noqa: N802 - a target factory, named like one
    return SoapQueryTarget(settings, VsaaQueries())
