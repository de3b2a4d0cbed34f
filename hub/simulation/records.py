"""Canonical records as a municipal social service would really produce them.

Amounts and thresholds follow the 2023-2024 rules (GMI and needy / low-income thresholds,
housing benefit), providers come from the Latgale providers directory (seeds/001).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.canonical import (
    AssistantService,
    BenefitGranted,
    CanonicalRecord,
    CooperationDuties,
    HouseholdStatusDecision,
    MonthlyReport,
    Municipality,
    ServiceToUnemployed,
    SocialServiceProvided,
)
from hub.rules.rates import rate_table
from hub.simulation.people import person_code

RIGA_TIME = ZoneInfo("Europe/Riga")
OTHER_BENEFITS = (
    "Pabalsts krīzes situācijā",
    "Pabalsts ēdināšanas izdevumu segšanai",
    "Pabalsts veselības aprūpes izdevumu segšanai",
    "Pabalsts bērna izglītības ieguves atbalstam",
)


@dataclass(frozen=True)
class Provider:
    register_no: str
    name: str
    service_code: str
    municipality: str


@cache
def providers() -> tuple[Provider, ...]:
    """The provider directory; register numbers are assigned by position (the directory has none)."""
    entries = json.loads((Path(__file__).parent / "providers.json").read_text(encoding="utf-8"))
    return tuple(
        Provider(f"S{number:05d}", entry["name"], entry["service_code"], entry["municipality"])
        for number, entry in enumerate(entries, start=1)
    )


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100 + 1)) / 100


class RecordFactory:
    def __init__(
        self,
        *,
        municipality: Municipality,
        record_prefix: str,
        decision_prefix: str,
        rng: random.Random,
        today: dt.date | None = None,
    ) -> None:
        self.municipality = municipality
        self.record_prefix = record_prefix
        self.decision_prefix = decision_prefix
        self.rng = rng
        self.today = today or dt.date.today()
        self._sequence = 0
        self.run_tag = f"{rng.randrange(16**4):04X}"

    def _next(self, kind: str) -> tuple[str, str]:
        self._sequence += 1
        record_id = f"{self.record_prefix}-{kind}-{self.run_tag}-{self._sequence:06d}"
        decision = f"{self.decision_prefix}-{self.today.year}/{self.run_tag}{self._sequence:06d}"
        return record_id, decision

    def _decision_time(self) -> tuple[dt.date, dt.datetime]:
        day = self.today - dt.timedelta(days=self.rng.randrange(1, 60))
        at = dt.datetime.combine(day, dt.time(self.rng.randrange(8, 17), self.rng.randrange(60)), RIGA_TIME)
        return day, at

    def _common(self, kind: str) -> dict[str, object]:
        record_id, decision_number = self._next(kind)
        day, at = self._decision_time()
        return {
            "record_id": record_id,
            "person_code": person_code(self.rng),
            "municipality": self.municipality,
            "decision_number": decision_number,
            "decision_date": day,
            "decided_at": at,
        }

    def benefit(self) -> BenefitGranted:
        common = self._common("PAB")
        start = (common["decision_date"] + dt.timedelta(days=1)).replace(day=1)  # type: ignore[operator]
        kind = self.rng.choices(("gmi", "housing", "municipal_other"), weights=(5, 4, 2))[0]
        amount = {"gmi": (20, 450), "housing": (15, 320), "municipal_other": (30, 500)}[kind]
        return BenefitGranted(
            **common,
            benefit_kind=kind,
            benefit_name=self.rng.choice(OTHER_BENEFITS) if kind == "municipal_other" else None,
            period_from=start,
            period_to=start + dt.timedelta(days=self.rng.choice((30, 90, 180))),
            amount=_money(self.rng, *amount),
        )

    def household_status(self) -> HouseholdStatusDecision:
        common = self._common("STA")
        status = self.rng.choice(("needy", "low_income"))
        start = common["decision_date"]
        months = 6 if status == "needy" else 12
        return HouseholdStatusDecision(
            **common,
            status=status,
            valid_from=start,
            valid_to=start + dt.timedelta(days=30 * months - 1),  # type: ignore[operator]
            household_size=self.rng.randint(1, 6),
            income_per_member=_money(self.rng, 0, 109) if status == "needy" else _money(self.rng, 110, 327),
        )

    def social_service(self, *, unregistered: bool = False) -> SocialServiceProvided:
        """`unregistered`: the provider is missing from SPOLIS's register, so SPOLIS refuses the record."""
        common = self._common("PAK")
        provider = self.rng.choice(providers())
        if unregistered:
            provider = Provider(f"S9{self.rng.randrange(10000):04d}", provider.name, provider.service_code, "")
        start = common["decision_date"]
        ongoing = self.rng.random() < 0.3
        return SocialServiceProvided(
            **common,
            service_code=provider.service_code,
            provider_register_no=provider.register_no,
            provider_name=provider.name[:500],
            period_from=start,
            period_to=None if ongoing else start + dt.timedelta(days=self.rng.randrange(7, 365)),  # type: ignore[operator]
            funding=self.rng.choices(("municipal", "state", "mixed"), weights=(6, 2, 2))[0],
            cost=_money(self.rng, 40, 2500) if self.rng.random() < 0.7 else None,
        )

    def assistant_service(self) -> AssistantService:
        """A month of assistant service; funding at the hourly rate in force (config/rates.toml)."""
        common = self._common("ASI")
        month_start = (self.today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        month_end = (month_start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        hours = Decimal(self.rng.randrange(40, 321)) / 2
        rate = rate_table("assistant_service_hourly_rate").on(month_start)
        return AssistantService(
            **common,
            contract_number=f"AP-{self.today.year}/{self.rng.randrange(10**5):05d}",
            contract_date=month_start - dt.timedelta(days=self.rng.randrange(30, 700)),
            period_from=month_start,
            period_to=month_end,
            hours=hours,
            hourly_rate=rate,
            state_funding=(hours * rate).quantize(Decimal("0.01")),
            vdeavk_opinion_id=f"VDEAVK-A-{self.rng.randrange(10**6):06d}",
        )

    def cooperation_duties(self) -> CooperationDuties:
        common = self._common("LDP")
        start = common["decision_date"]
        return CooperationDuties(
            **common,
            duties=self.rng.sample(
                ["register_with_nva", "attend_nva_consultations", "take_part_in_measures", "seek_work_actively"],
                self.rng.randint(1, 3),
            ),
            valid_from=start,
            valid_to=start + dt.timedelta(days=180),  # type: ignore[operator]
            services=[
                ServiceToUnemployed(
                    service=self.rng.choice(("social_rehabilitation", "psychologist", "debt_counselling")),
                    provided_on=start,
                )
                for _ in range(self.rng.randint(0, 2))
            ],
        )

    def monthly_report(self, year: int, month: int) -> MonthlyReport:
        """A consistent report: totals are the sums of their parts."""
        needy, low = self.rng.randrange(50, 4000), self.rng.randrange(20, 2000)
        gmi, housing, other = (_money(self.rng, 1000, 90000) for _ in range(3))
        prepared = dt.date(year, month, 1) + dt.timedelta(days=40)
        return MonthlyReport(
            record_id=f"{self.municipality.atvk}-{year}-{month:02d}",
            decided_at=dt.datetime.combine(min(prepared, self.today), dt.time(9, self.rng.randrange(60)), RIGA_TIME),
            municipality=self.municipality,
            year=year,
            month=month,
            needy_households=needy,
            needy_persons=needy + self.rng.randrange(0, needy),
            low_income_households=low,
            low_income_persons=low + self.rng.randrange(0, low),
            households_total=needy + low,
            gmi_recipients=self.rng.randrange(10, needy + 1),
            gmi_paid=gmi,
            housing_recipients=self.rng.randrange(10, needy + low),
            housing_paid=housing,
            other_recipients=self.rng.randrange(0, 500),
            other_paid=other,
            benefits_paid_total=gmi + housing + other,
        )

    def batch(self, size: int, *, unregistered_share: float = 0.0) -> list[CanonicalRecord]:
        """A realistic mix; `unregistered_share` of the records name a provider SPOLIS does not know."""
        makers = (self.benefit, self.household_status, self.social_service)
        return [
            self.social_service(unregistered=True)
            if self.rng.random() < unregistered_share
            else self.rng.choices(makers, weights=(2, 1, 1))[0]()
            for _ in range(size)
        ]
