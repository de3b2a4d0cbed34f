"""The alert rules page when they must, live: a real Prometheus scrapes a served hub (a gateway and two
workers, signatures required) and evaluates a copy of monitoring/alerts.yml whose waits and windows
are shortened from minutes and hours to seconds. SPOLIS first takes healthy traffic (nothing pages,
nothing even pends), then refuses a load (tickets, no page), then is gone (connection refused), then
answers too late: each failure pages with exactly HubTargetFailing and HubTargetCircuitOpen for
spolis. What is counted is what /api/v1/alerts shows pending or firing while each scene lasts."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.sopa.dialect import from_canonical
from hub.canonical import CanonicalRecord
from hub.settings import PROJECT_ROOT
from hub.simulation.client import HubClient
from hub.simulation.pki import signer_for
from tests.helpers import RIGA, factory, wait_for
from tests.helpers.prometheus import Prometheus, moment

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

FOR = "5s"  # every rule's `for:`
SCALE = 360  # ranges and offsets: an hour becomes 10 s ...
SHORTEST = 5  # ... but a range keeps at least this many seconds, five scrapes at 1 s
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
PAGES = {"HubTargetFailing", "HubTargetCircuitOpen"}


def seconds(duration: str) -> float:
    return sum(int(n) * UNITS[unit] for n, unit in re.findall(r"(\d+)(ms|[smhdwy])", duration))


def shortened(rules: dict[str, Any]) -> dict[str, Any]:
    """`rules` with every `for:` at FOR, and every range, subquery and offset divided by SCALE (ranges and
    offsets at least SHORTEST seconds, a subquery's step at least 1 s): the same rules, run in seconds."""

    def scaled(duration: str, least: int) -> str:
        return f"{max(round(seconds(duration) / SCALE), least)}s"

    def expr(text: str) -> str:
        text = re.sub(
            rf"\[({DURATION})(?::({DURATION}))?\]",
            lambda m: f"[{scaled(m[1], SHORTEST)}{f':{scaled(m[2], 1)}' if m[2] else ''}]",
            text,
        )
        return re.sub(rf"\boffset\s+({DURATION})", lambda m: f"offset {scaled(m[1], SHORTEST)}", text)

    quick = copy.deepcopy(rules)
    for rule in (rule for group in quick["groups"] for rule in group["rules"]):
        rule["expr"] = expr(rule["expr"])
        if "for" in rule:
            rule["for"] = FOR
    return quick


@pytest.fixture
def served_settings() -> dict[str, Any]:
    """A call to a target times out after 1 s, so a target answering too late fails calls quickly."""
    return {"target_timeout_seconds": 1.0}


@pytest.fixture
def alert_rules(tmp_path: Path) -> Path:
    rules = yaml.safe_load((PROJECT_ROOT / "monitoring" / "alerts.yml").read_text(encoding="utf-8"))
    path = tmp_path / "alerts-quick.yml"
    path.write_text(yaml.safe_dump(shortened(rules), sort_keys=False), encoding="utf-8")
    return path


class Watch:
    """The hub's alerts pending or firing, looked at every 0.1 s while a scene lasts: RabbitMQ's own
    alerts and queues of other prefixes on the shared broker are not this hub's."""

    def __init__(self, prometheus: Prometheus, prefix: str) -> None:
        self.prometheus = prometheus
        self.prefix = prefix
        self.seen: dict[str, set[tuple[str, str]]] = {"pending": set(), "firing": set()}

    def ours(self, alert: dict) -> bool:
        labels = alert["labels"]
        if labels["alertname"].startswith("Rabbitmq"):
            return False
        return labels.get("queue", f"{self.prefix}.").startswith(f"{self.prefix}.")

    def look(self) -> None:
        for alert in filter(self.ours, self.prometheus.get("alerts")["alerts"]):
            labels = alert["labels"]
            self.seen[alert["state"]].add((labels["alertname"], labels.get("target", "")))

    def until(self, fired: set[tuple[str, str]], timeout: float) -> None:
        """Look until every alert of `fired` has fired."""

        def done() -> bool:
            self.look()
            return fired <= self.seen["firing"]

        try:
            wait_for(done, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"expected {fired} to fire; seen {self.seen}") from None

    def pages(self, severity: dict[str, str]) -> set[tuple[str, str]]:
        """What paged or was about to (pending)."""
        return {a for a in self.seen["pending"] | self.seen["firing"] if severity[a[0]] == "page"}

    def calm(self, severity: dict[str, str]) -> bool:
        """No page of this hub's pends or fires now."""
        alerts = filter(self.ours, self.prometheus.get("alerts")["alerts"])
        return not [a for a in alerts if severity[a["labels"]["alertname"]] == "page"]


def send(gateway: str, pki: Path, records: list[CanonicalRecord]) -> None:
    """SOPA sends `records` to SPOLIS as one signed load, and the gateway accepts it."""
    client = HubClient(gateway, sender="sopa", retries=3, signer=signer_for("sopa", pki))
    try:
        body = from_canonical(records, RIGA, f"P-{time.monotonic_ns()}")
        assert client.submit(body, destination="spolis", user_id="u.1", records=len(records)).accepted
    finally:
        client.close()


def test_spolis_refusing_gone_and_timing_out_pages_exactly_who_it_must(
    hub_processes, prometheus, spolis, broker_prefix, dev_pki, alert_rules
):
    gateway = f"http://127.0.0.1:{hub_processes['gateway']}"
    rules = yaml.safe_load(alert_rules.read_text(encoding="utf-8"))
    severity = {r["alert"]: r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    records = factory(71)

    # Healthy: a load delivered; every rule evaluated twice more after it settled; nothing pending or
    # firing meanwhile (pending is the start of every page, so nothing was on its way either).
    watch = Watch(prometheus, broker_prefix)
    send(gateway, dev_pki, records.batch(40))
    wait_for(lambda: prometheus.value('sum(hub_messages_delivered_total{target="spolis"})') == 40, timeout=30)
    settled = time.time()

    def evaluated_twice_since() -> bool:
        watch.look()
        return all(moment(r["lastEvaluation"]).timestamp() > settled + 1 for r in prometheus.rules())

    wait_for(evaluated_twice_since, timeout=15)
    assert watch.seen == {"pending": set(), "firing": set()}

    # SPOLIS refuses 60 records naming a provider it does not know: failed for good, each its own
    # entry in the store. Tickets for the flow and for the store; the calls themselves succeeded, so
    # nothing pages.
    watch = Watch(prometheus, broker_prefix)
    unknown = [records.social_service().model_copy(update={"provider_register_no": "S77777"}) for _ in range(60)]
    send(gateway, dev_pki, unknown)
    watch.until({("HubFailuresRising", "spolis"), ("HubFailedStoreGrowing", "spolis")}, timeout=30)
    assert watch.pages(severity) == set()

    # SPOLIS is gone: every call is refused a connection. Both pages, and only they.
    watch = Watch(prometheus, broker_prefix)
    spolis.stop()
    send(gateway, dev_pki, records.batch(10))
    watch.until({(name, "spolis") for name in PAGES}, timeout=30)
    assert watch.pages(severity) == {(name, "spolis") for name in PAGES}

    # SPOLIS is back, and the pages resolve. Then it answers after 2 s, when the hub stopped waiting a
    # second before: every call times out, and the same two page again.
    spolis.start()
    wait_for(lambda: watch.calm(severity), timeout=30)
    spolis.knobs.timeout_rate, spolis.knobs.timeout_seconds = 1.0, 2.0
    watch = Watch(prometheus, broker_prefix)
    send(gateway, dev_pki, records.batch(10))
    watch.until({(name, "spolis") for name in PAGES}, timeout=40)
    assert watch.pages(severity) == {(name, "spolis") for name in PAGES}
    assert prometheus.value('sum(hub_target_call_duration_seconds_count{target="spolis", outcome="target_timeout"})')
