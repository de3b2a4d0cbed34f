"""The formats SPOLIS defines for municipalities, sent through the hub: assistant service (F2) and
the monthly social assistance report (F8), to canonical records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from adapters.spolis.outbound import (
    CONTRACT,
    DECISION,
    HOURS,
    MONTHLY_REPORT,
    MUNICIPALITY,
    NS,
    OPINION_ID,
    PERIOD,
    PERSON,
    PLACE,
)
from hub.canonical import AssistantService, MonthlyReport, Municipality
from hub.canonical.mapping import Parsed, RecordCollector
from hub.canonical.types import RuleViolation
from hub.errors import FieldError
from hub.rules.rates import rate_table
from hub.xml.fields import Field, Table
from hub.xml.read import child, indexed_children, sub

_ASSISTANCE, _REPORT, _ITEM = "AsistentaPakalpojumuPakete", "MenesaParskatsIesniegums", "Pakalpojums"
ASSISTANCE, REPORT = f"{{{NS}}}{_ASSISTANCE}", f"{{{NS}}}{_REPORT}"

ASSISTANCE_RECORD = Table(
    NS,
    Field("record_id", "IerakstaId"),
    PERSON,
    *DECISION,
    *CONTRACT,
    *PERIOD,
    HOURS,
    OPINION_ID,
)
# the hub computes the state funding from the hours, so its errors name them
_ASSISTANCE_PATHS = ASSISTANCE_RECORD.paths | {"state_funding": ASSISTANCE_RECORD.paths["hours"]}
REPORT_RECORD = Table(NS, *MONTHLY_REPORT)


def _municipality(element: etree._Element) -> dict[str, str | None]:
    return PLACE.read(child(element, NS, MUNICIPALITY.path))


def _add_municipality(element: etree._Element, municipality: Municipality) -> None:
    PLACE.write(sub(element, NS, MUNICIPALITY.path), municipality)


def assistance_to_canonical(package: etree._Element) -> list[Parsed]:
    """The hub adds the hourly rate in force on the period's first day, and the funding it makes."""
    municipality = _municipality(package)
    records = RecordCollector()
    rates = rate_table("assistant_service_hourly_rate")
    for at, item in indexed_children(package, NS, _ITEM, _ASSISTANCE):
        values = ASSISTANCE_RECORD.read(item)
        try:
            rate = rates.on(dt.date.fromisoformat(values["period_from"]))
        except RuleViolation as exc:
            path = ASSISTANCE_RECORD.paths["period_from"]
            records.errors.append(FieldError(f"{at}/{path}", exc.rule, str(exc), item.sourceline))
            continue
        hours = values["hours"]
        values.update(
            municipality=municipality, hourly_rate=rate, state_funding=(hours * rate).quantize(Decimal("0.01"))
        )
        records.add(AssistantService, values, at=at, fields=_ASSISTANCE_PATHS, source=item)
    return records.result()


def report_to_canonical(report: etree._Element) -> list[Parsed]:
    municipality = _municipality(report)
    values = REPORT_RECORD.read(report)
    values["municipality"] = municipality
    values["record_id"] = f"{municipality['atvk']}-{values['year']}-{int(values['month'] or 0):02d}"
    records = RecordCollector()
    records.add(MonthlyReport, values, at=_REPORT, fields=REPORT_RECORD.paths, source=report)
    return records.result()


def assistance_to_xml(records: Sequence[AssistantService], municipality: Municipality) -> etree._Element:
    package = etree.Element(ASSISTANCE, nsmap={"sp": NS})
    _add_municipality(package, municipality)
    for r in records:
        ASSISTANCE_RECORD.write(sub(package, NS, _ITEM), r)
    return package


def report_to_xml(records: Sequence[MonthlyReport], municipality: Municipality) -> etree._Element:
    (report,) = records
    element = etree.Element(REPORT, nsmap={"sp": NS})
    _add_municipality(element, municipality)
    return REPORT_RECORD.write(element, report)
