"""How every section of the table writes its figures and its verdicts, and how repeated runs of a
section become one figure: the median, with the spread (lowest–highest) beside it."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:,.0f} ms"


def goal(met: bool, text: str) -> str:
    return f"{'met' if met else 'NOT met'}: {text}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    """The median of the runs' figures, with their lowest and highest when they differ."""
    if not values:
        return ""
    low, high = fmt(min(values)), fmt(max(values))
    return fmt(median(values)) if low == high else f"{fmt(median(values))} ({low}–{high})"


def median_figures(runs: list[T]) -> T:
    """Figures of several runs as one: each number the median of that number over the runs, field by
    field (dataclasses and lists of them alike); anything else as the first run has it."""
    first = runs[0]
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return dataclasses.replace(
            first,  # type: ignore[arg-type]
            **{
                f.name: median_figures([getattr(run, f.name) for run in runs])
                for f in dataclasses.fields(first)
                if f.init
            },
        )
    if isinstance(first, list) and all(isinstance(run, list) and len(run) == len(first) for run in runs):
        return [median_figures([run[i] for run in runs]) for i in range(len(first))]  # type: ignore[return-value]
    if isinstance(first, bool) or not all(isinstance(run, int | float) for run in runs):
        return first
    middle = median([float(run) for run in runs])  # type: ignore[arg-type]
    return round(middle) if isinstance(first, int) else middle  # type: ignore[return-value]
