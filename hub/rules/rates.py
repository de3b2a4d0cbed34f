"""Dated rates from configuration (config/rates.toml), never from code: a rate change is a new line."""

from __future__ import annotations

import bisect
import datetime as dt
import tomllib
from decimal import Decimal
from functools import cache
from pathlib import Path

from hub.canonical.types import RuleViolation
from hub.settings import get_settings


class RateTable:
    def __init__(self, name: str, entries: list[tuple[dt.date, Decimal]]) -> None:
        if not entries:
            raise ValueError(f"no rates for {name}")
        self.name = name
        self._entries = sorted(entries)
        self._dates = [d for d, _ in self._entries]

    def on(self, day: dt.date) -> Decimal:
        position = bisect.bisect_right(self._dates, day) - 1
        if position < 0:
            raise RuleViolation("rate-unknown", f"no {self.name.replace('_', ' ')} is configured for {day}")
        return self._entries[position][1]


def load_rates(path: Path) -> dict[str, RateTable]:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        name: RateTable(name, [(entry["from"], Decimal(str(entry["eur"]))) for entry in entries])
        for name, entries in config.items()
    }


@cache
def rate_table(name: str) -> RateTable:
    return load_rates(get_settings().rates_file)[name]
