"""The formats SPOLIS defines for municipalities, sent through the hub: assistant service (F2) and
the monthly social assistance report (F8), to canonical records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from adapters.spolis.outbound import NS, REPORT_FIELDS, report_figures
from hub.canonical import AssistantService, MonthlyReport, Municipality
from hub.canonical.mapping import Parsed, RecordCollector
from hub.canonical.types import RuleViolation
from hub.errors import FieldError
from hub.rates import rate_table
from hub.xml.read import child, child_texts, indexed_children, sub

ASSISTANCE = f"{{{NS}}}AsistentaPakalpojumuPakete"
REPORT = f"{{{NS}}}MenesaParskatsIesniegums"

ASSISTANCE_FIELDS = {
    "record_id": "IerakstaId",
    "person_code": "PersonasKods",
    "decision_number": "Lemums/@numurs",
    "decision_date": "Lemums/@datums",
    "decided_at": "Lemums/@laiks",
    "contract_number": "Ligums/@numurs",
    "contract_date": "Ligums/@datums",
    "period_from": "Periods/@no",
    "period_to": "Periods/@lidz",
    "hours": "Stundas",
    "vdeavk_opinion_id": "VdeavkAtzinumaId",
    "state_funding": "Stundas",
}


def _municipality(element: etree._Element) -> dict[str, str | None]:
    place = child(element, NS, "Pasvaldiba")
    return {"atvk": place.get("atvk"), "name": place.get("nosaukums")}


def assistance_to_canonical(package: etree._Element) -> list[Parsed]:
    """The hub adds the hourly rate in force on the period's first day, and the funding it makes."""
    municipality = _municipality(package)
    records = RecordCollector()
    rates = rate_table("assistant_service_hourly_rate")
    for at, item in indexed_children(package, NS, "Pakalpojums", "AsistentaPakalpojumuPakete"):
        v = child_texts(item, NS)
        decision, contract, period = (child(item, NS, name) for name in ("Lemums", "Ligums", "Periods"))
        try:
            rate = rates.on(dt.date.fromisoformat(period.get("no")))
        except RuleViolation as exc:
            records.errors.append(FieldError(f"{at}/Periods/@no", exc.rule, str(exc), item.sourceline))
            continue
        hours = Decimal(v["Stundas"])
        records.add(
            AssistantService,
            {
                "record_id": v.get("IerakstaId"),
                "person_code": v.get("PersonasKods"),
                "municipality": municipality,
                "decision_number": decision.get("numurs"),
                "decision_date": decision.get("datums"),
                "decided_at": decision.get("laiks"),
                "contract_number": contract.get("numurs"),
                "contract_date": contract.get("datums"),
                "period_from": period.get("no"),
                "period_to": period.get("lidz"),
                "hours": hours,
                "hourly_rate": rate,
                "state_funding": (hours * rate).quantize(Decimal("0.01")),
                "vdeavk_opinion_id": v.get("VdeavkAtzinumaId"),
            },
            at=at,
            fields=ASSISTANCE_FIELDS,
            source=item,
        )
    return records.result()


def report_to_canonical(report: etree._Element) -> list[Parsed]:
    municipality = _municipality(report)
    v = child_texts(report, NS)
    values: dict[str, object] = {field: v.get(tag) for tag, field in REPORT_FIELDS}
    values.update(
        record_id=f"{municipality['atvk']}-{v.get('Gads')}-{int(v.get('Menesis') or 0):02d}",
        decided_at=v.get("Sagatavots"),
        municipality=municipality,
        year=v.get("Gads"),
        month=v.get("Menesis"),
    )
    fields = {field: tag for tag, field in REPORT_FIELDS}
    fields |= {"decided_at": "Sagatavots", "year": "Gads", "month": "Menesis"}
    records = RecordCollector()
    records.add(MonthlyReport, values, at="MenesaParskatsIesniegums", fields=fields, source=report)
    return records.result()


def assistance_to_xml(records: Sequence[AssistantService], municipality: Municipality) -> etree._Element:
    package = etree.Element(ASSISTANCE, nsmap={"sp": NS})
    etree.SubElement(package, f"{{{NS}}}Pasvaldiba", atvk=municipality.atvk, nosaukums=municipality.name)
    for r in records:
        item = sub(package, NS, "Pakalpojums")
        sub(item, NS, "IerakstaId", r.record_id)
        sub(item, NS, "PersonasKods", r.person_code)
        etree.SubElement(
            item,
            f"{{{NS}}}Lemums",
            numurs=r.decision_number,
            datums=r.decision_date.isoformat(),
            laiks=r.decided_at.isoformat(),
        )
        etree.SubElement(item, f"{{{NS}}}Ligums", numurs=r.contract_number, datums=r.contract_date.isoformat())
        etree.SubElement(item, f"{{{NS}}}Periods", no=r.period_from.isoformat(), lidz=r.period_to.isoformat())
        sub(item, NS, "Stundas", f"{r.hours:.2f}")
        sub(item, NS, "VdeavkAtzinumaId", r.vdeavk_opinion_id)
    return package


def report_to_xml(records: Sequence[MonthlyReport], municipality: Municipality) -> etree._Element:
    (report,) = records
    element = etree.Element(REPORT, nsmap={"sp": NS})
    etree.SubElement(element, f"{{{NS}}}Pasvaldiba", atvk=municipality.atvk, nosaukums=municipality.name)
    sub(element, NS, "Gads", report.year)
    sub(element, NS, "Menesis", report.month)
    sub(element, NS, "Sagatavots", report.decided_at.isoformat())
    for tag, value in report_figures(report):
        sub(element, NS, tag, value)
    return element
