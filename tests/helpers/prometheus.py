"""A real Prometheus's HTTP API, as the monitoring tests read it: instant and range queries, the rules
and their last evaluation, and the alerts pending or firing."""

from __future__ import annotations

import datetime as dt
import re

import httpx


class Prometheus:
    def __init__(self, url: str) -> None:
        self.api = f"{url}/api/v1"

    def query(self, expr: str) -> dict:
        answer = httpx.get(f"{self.api}/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": start, "end": end, "step": step}
        answer = httpx.get(f"{self.api}/query_range", params=params, timeout=10).json()
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)["result"]
        return float(result[0]["value"][1]) if result else None

    def get(self, path: str) -> dict:
        return httpx.get(f"{self.api}/{path}", timeout=10).json()["data"]

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.api}/status/buildinfo", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def rules(self) -> list[dict]:
        return [rule for group in self.get("rules")["groups"] for rule in group["rules"]]

    def alerts(self, state: str = "firing") -> list[dict]:
        """The alerts in `state` ("pending" or "firing") now."""
        return [a for a in self.get("alerts")["alerts"] if a["state"] == state]


def moment(stamp: str) -> dt.datetime:
    """Prometheus's RFC 3339 time (nanoseconds, Z) as a datetime."""
    return dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00"))
