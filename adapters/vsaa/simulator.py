"""A stand-in for VSAA's e-services: a SOAP server answering EP50, EP51 and EP52 with data that is
the same for the same person every time (seeded by the person code) and plausible for their age:
old-age pensions from 64, disability pensions, unemployment benefits, the state social security
benefit, maintenance-guarantee and court-ruling deductions."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
from decimal import Decimal

from lxml import etree

from adapters.vsaa.dialect import SERVICES, answer_to_xml, request_to_canonical
from hub.canonical.queries import (
    Deduction,
    DeductionsAnswer,
    GrantedBenefit,
    GrantedBenefitsAnswer,
    Payment,
    PaymentsAnswer,
)
from hub.simulation import pki
from hub.simulation.serve import serve_forever
from hub.simulation.soap_server import Knobs, SoapServer

AMOUNTS = {
    "old_age_pension": (380, 950),
    "disability_pension": (150, 480),
    "survivor_pension": (100, 300),
    "unemployment_benefit": (240, 720),
    "state_social_security_benefit": (109, 190),
    "parental_benefit": (300, 900),
}


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def person_benefits(person_code: str, today: dt.date) -> list[GrantedBenefit]:
    """What VSAA pays this person: the same every time for the same code."""
    rng = random.Random(hashlib.sha256(person_code.encode()).digest())
    birth = _birth_year(person_code, rng)
    age = today.year - birth
    kinds: list[str] = []
    if age >= 64:
        kinds.append("old_age_pension")
    elif rng.random() < 0.25:
        kinds.append("disability_pension")
    elif 18 <= age < 64 and rng.random() < 0.35:
        kinds.append("unemployment_benefit")
    if age < 64 and rng.random() < 0.1:
        kinds.append("state_social_security_benefit")
    if rng.random() < 0.15:
        kinds.append("survivor_pension")
    benefits = []
    for kind in kinds:
        start = today - dt.timedelta(days=rng.randrange(60, 3650))
        end = start + dt.timedelta(days=270) if kind == "unemployment_benefit" else None
        benefits.append(
            GrantedBenefit(benefit=kind, granted_from=start, granted_to=end, monthly_amount=_money(rng, *AMOUNTS[kind]))
        )
    return benefits


def _birth_year(person_code: str, rng: random.Random) -> int:
    if person_code.startswith("32"):
        return rng.randrange(1940, 2005)
    return 1800 + int(person_code[7]) * 100 + int(person_code[4:6])


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _active(benefit: GrantedBenefit, month: dt.date) -> bool:
    return benefit.granted_from <= month and (benefit.granted_to is None or benefit.granted_to >= month)


class VsaaService:
    def __init__(self, knobs: Knobs | None = None, *, seed: int | None = None, today: dt.date | None = None) -> None:
        self.today = today or dt.date.today()
        handlers = {request: self._answer for request, _, _ in SERVICES.values()}
        self.server = SoapServer(
            system="vsaa",
            schema="vsaa/vsaa-v1.xsd",
            wsdl="vsaa/vsaa-service-v1.wsdl",
            handlers=handlers,
            knobs=knobs,
            seed=seed,
        )

    def app(self):  # type: ignore[no-untyped-def]
        return self.server.app()

    def _answer(self, request: etree._Element) -> etree._Element:
        ((query, _),) = request_to_canonical(request)
        benefits = person_benefits(query.person_code, self.today)
        name = etree.QName(request).localname
        rng = random.Random(hashlib.sha256(f"{query.person_code}/{name}".encode()).digest())
        if name.startswith("EP51"):
            return answer_to_xml(GrantedBenefitsAnswer(benefits=[b for b in benefits if _active(b, query.as_of)]))
        months = _months(query.period_from, query.period_to)
        if name.startswith("EP52"):
            payments = [
                Payment(
                    month=f"{m:%Y-%m}",
                    benefit=b.benefit,
                    amount=b.monthly_amount,
                    sent_on=m + dt.timedelta(days=rng.randrange(5, 20)),
                )
                for m in months
                for b in benefits
                if _active(b, m)
            ]
            return answer_to_xml(PaymentsAnswer(payments=payments))
        deductions = [
            Deduction(
                month=f"{m:%Y-%m}",
                benefit=b.benefit,
                kind=rng.choice(("maintenance_guarantee", "court_ruling", "overpayment")),
                amount=(b.monthly_amount * Decimal(rng.choice(("0.1", "0.2", "0.3")))).quantize(Decimal("0.01")),
            )
            for m in months
            for b in benefits
            if _active(b, m) and rng.random() < 0.3
        ]
        return answer_to_xml(DeductionsAnswer(deductions=deductions))


class VsaaSimulator:
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8092)
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--fault-rate", type=float, default=0.0)
        pki.add_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        service = VsaaService(Knobs(args.latency_ms, args.fault_rate))
        service.server.verifier = pki.hub_verifier(args.pki)
        return serve_forever(service.app(), args.host, args.port, "VSAA simulator", "/soap/vsaa")


SIMULATOR = VsaaSimulator()
