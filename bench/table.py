"""How every section of the table writes its figures and its verdicts."""

from __future__ import annotations


def ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:,.0f} ms"


def goal(met: bool, text: str) -> str:
    return f"{'met' if met else 'NOT met'}: {text}"
