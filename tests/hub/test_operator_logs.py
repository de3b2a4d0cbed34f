"""Lines an on-call person can act on: a circuit's changes once each with why, retries and failures
with error, attempt, delay and failed-store id, every line short whatever the batch; and every look
at a stored message's personal data is in the audit trail, naming the operator."""

from __future__ import annotations

import io
import json
import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from hub.delivery.circuit import CircuitBreaker, State
from hub.logs import JsonFormatter, TextFormatter, handling
from hub.pseudonym import Pseudonymizer
from hub.rules.policies import BreakerSettings
from hub.simulation.people import person_code
from hub.store.failed import Filter
from hub.store.operators import OperatorStore
from tests.helpers import factory, hub_cli, same_hub_environment, submit, wait_for

LINE_BYTES = 1024
PSEUDONYMS = Pseudonymizer(b"0123456789abcdef0123456789abcdef")


def transitions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str, str, str]]:
    return [
        (r.levelname, r.getMessage(), r.from_state, r.to_state, r.why)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "hub.delivery.circuit"
    ]


def test_each_circuit_change_is_logged_once_with_why(caplog):
    caplog.set_level(logging.INFO, logger="hub.delivery.circuit")
    now = [0.0]
    breaker = CircuitBreaker("spolis-logs", BreakerSettings(failures=3, open_seconds=10), clock=lambda: now[0])
    code = person_code(random.Random(4))
    for _ in range(2):
        breaker.failure("target_timeout: read timed out")
    assert transitions(caplog) == []
    breaker.failure(f"target_timeout: no answer about {code} " + "x" * 1000)
    for _ in range(5):  # open: messages wait, nothing more is logged
        breaker.failure("target_timeout: read timed out")
        assert not breaker.allow() and breaker.state is State.OPEN and breaker.seconds_until_probe() > 0
    ((level, msg, before, after, why),) = transitions(caplog)
    assert (level, msg, before, after) == ("WARNING", "circuit opened", "closed", "open")
    assert why.startswith("3 failed calls in a row: target_timeout: no answer about [person code] xxx")
    assert len(why) < 400 and code not in why
    caplog.clear()

    now[0] = 10
    assert [breaker.state, breaker.state, breaker.seconds_until_probe()] == [State.HALF_OPEN, State.HALF_OPEN, 0]
    assert breaker.allow() and not breaker.allow()
    breaker.failure("target_unavailable: 503")
    now[0] = 15
    assert breaker.state is State.OPEN
    now[0] = 20
    assert breaker.allow()
    breaker.success()
    breaker.success()
    assert transitions(caplog) == [
        ("INFO", "circuit half-open", "open", "half_open", "10 s passed since it opened: one probe may go"),
        ("WARNING", "circuit opened", "half_open", "open", "probe failed: target_unavailable: 503"),
        ("INFO", "circuit half-open", "open", "half_open", "10 s passed since it opened: one probe may go"),
        ("INFO", "circuit closed", "half_open", "closed", "probe succeeded"),
    ]


def test_threads_that_fail_together_open_the_circuit_once(caplog):
    caplog.set_level(logging.INFO, logger="hub.delivery.circuit")
    breaker = CircuitBreaker("spolis-threads", BreakerSettings(failures=5, open_seconds=60))
    start = threading.Barrier(8)

    def fail() -> None:
        start.wait()
        for _ in range(50):
            breaker.failure("target_unavailable: down")
            breaker.allow()

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [t[1:4] for t in transitions(caplog)] == [("circuit opened", "closed", "open")]


def test_a_line_about_a_large_batch_names_its_count_and_a_few_ids():
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(250)]
    entry = logging.LogRecord("hub.test", logging.WARNING, __file__, 1, "delivery will be retried", None, None)
    with handling(ids, ["c-1", "c-2"] * 125):
        text = JsonFormatter().format(entry)
    line = json.loads(text)
    assert (line["message_count"], line["message_ids"]) == (250, ids[:3])
    assert (line["correlation_count"], line["correlation_ids"]) == (2, ["c-1", "c-2"])
    assert len(text.encode()) < LINE_BYTES


def test_a_text_line_carries_the_fields_too():
    code = person_code(random.Random(5))
    entry = logging.LogRecord("hub.delivery.circuit", logging.WARNING, __file__, 1, "circuit opened", None, None)
    entry.__dict__.update(target="spolis", why=f"probe failed: no answer about {code}")
    with handling(["m-1", "m-2"], "c-1"):
        line = TextFormatter(PSEUDONYMS.scrub).format(entry)
    assert line.endswith(
        "circuit opened message_ids=m-1,m-2 message_count=2 correlation_id=c-1 target=spolis "
        f'why="probe failed: no answer about {PSEUDONYMS(code)}"'
    )


@contextmanager
def hub_lines() -> Iterator[io.StringIO]:
    """Every line the hub logs meanwhile, as its JSON formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(PSEUDONYMS.scrub))
    root = logging.getLogger()
    level, root.level = root.level, logging.INFO
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.level = level


def test_retries_and_failures_say_what_failed_when_and_where_it_went(start_hub, spolis):
    f = factory(41)
    unknown = f.social_service().model_copy(update={"provider_register_no": "S77777"})
    records = [unknown, *f.batch(11)]
    with hub_lines() as stream:
        hub = start_hub()
        spolis.knobs.fault_rate = 1.0
        ids = submit(hub, records)
        wait_for(lambda: '"circuit opened"' in stream.getvalue(), timeout=30)
        spolis.knobs.fault_rate = 0.0
        wait_for(lambda: hub.store.counts() == {"delivered": 11, "failed": 1}, timeout=60)
        wait_for(lambda: '"circuit closed"' in stream.getvalue(), timeout=30)
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert all(len(line.encode()) < LINE_BYTES for line in text.splitlines())
    assert not any(r.person_code in text or r.person_code.replace("-", "") in text for r in records)

    retried = [line for line in lines if line["msg"] == "delivery will be retried"]
    assert retried and any(line["message_count"] == 12 for line in retried), "the whole load at its first try"
    for line in retried:
        count = line.get("message_count", 1)
        named = line.get("message_ids", [line.get("message_id")])
        assert len(named) == min(count, 3) and set(named) <= set(ids.values())
        assert (line["target"], line["error_class"]) == ("spolis", "target_unavailable")
        assert "overloaded" in line["error"] and line["next_delay_s"] in (0.3, 0.6, 1.0)
    assert {line["attempt"] for line in retried} >= {"1", "2"}

    opened = [line for line in lines if line["msg"] == "circuit opened"]
    assert opened[0]["why"].startswith("4 failed calls in a row: target_unavailable: ")
    assert opened[0]["level"] == "warning" and opened[0]["target"] == "spolis"
    closed = [line for line in lines if line["msg"] == "circuit closed"]
    assert [(c["from_state"], c["why"]) for c in closed] == [("half_open", "probe succeeded")]

    message_id = ids[unknown.record_id]
    (failed,) = [line for line in lines if line["msg"] == "message failed for good"]
    entry = hub.failed.entry_for(message_id)
    retries = [e for e in hub.message_log.events(message_id) if e.event == "retry_scheduled"]
    assert (failed["message_id"], failed["failed_id"], failed["error_class"]) == (
        message_id,
        entry.id,
        "target_rejected",
    )
    assert "S77777" in failed["reason"] and failed["attempts"] == len(retries) + 1 >= 2


def stored_failure(start_hub, spolis, **settings):  # type: ignore[no-untyped-def]
    """A hub, and the failed-store entry of a service SPOLIS refused, with the record sent."""
    hub = start_hub(**settings)
    unknown = factory(42).social_service().model_copy(update={"provider_register_no": "S77777"})
    submit(hub, [unknown])
    wait_for(lambda: hub.store.counts().get("failed") == 1)
    (entry,) = hub.failed.find(Filter())
    return hub, entry, unknown


def views(hub) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    entries = hub.operators().audit_entries()
    return [(e.operator, e.subject, e.reason, e.details["message_id"]) for e in reversed(entries) if e.action == "view"]


def test_showing_a_failed_message_in_the_cli_is_audited(start_hub, spolis):
    hub, entry, record = stored_failure(start_hub, spolis)
    env = {**same_hub_environment(hub), "HUB_OPERATOR": "ops.janis"}
    shown = hub_cli("failed", "show", str(entry.id), env=env)
    assert shown.returncode == 0 and record.person_code in shown.stdout, shown.stderr
    named = hub_cli("failed", "--operator", "ops.anna", "show", "--json", str(entry.id), env=env)
    assert named.returncode == 0, named.stderr
    edited = hub_cli("failed", "edit", str(entry.id), "--reason", "look", "--no-replay", env={**env, "EDITOR": "true"})
    assert edited.returncode == 0, edited.stderr
    assert hub_cli("failed", "show", "999", env=env).returncode == 1
    assert views(hub) == [
        ("ops.janis", str(entry.id), "hub failed show", entry.message_id),
        ("ops.anna", str(entry.id), "hub failed show", entry.message_id),
        ("ops.janis", str(entry.id), "hub failed edit", entry.message_id),
    ]
    (first, *_) = [e for e in reversed(hub.operators().audit_entries()) if e.action == "view"]
    assert first.details["shown"] == ["envelope", "xml"] and first.at.tzinfo is not None
    text = json.dumps([(e.subject, e.reason, e.details) for e in hub.operators().audit_entries()])
    assert record.person_code not in text
    assert hub_cli("audit", "verify", env=env).returncode == 0


def test_showing_a_failed_message_over_the_admin_api_is_audited(start_hub, spolis):
    hub, entry, record = stored_failure(start_hub, spolis, admin_port=0)
    url = f"{hub.console_url}/api/failed/{entry.id}"
    accounts = OperatorStore(hub.db)
    accounts.add("ops.liga", "viewer", "correct horse battery staple")
    auth = {"Authorization": f"Bearer {accounts.new_token('ops.liga')}"}
    assert httpx.get(url, headers={"X-Operator": "ops.liga"}).status_code == 401, "nobody known: nothing shown"
    assert views(hub) == []
    shown = httpx.get(url, headers=auth)
    assert shown.status_code == 200 and shown.json()["envelope"]["payload"]["person_code"] == record.person_code
    assert views(hub) == [("ops.liga", str(entry.id), f"GET /api/failed/{entry.id}", entry.message_id)]
    assert httpx.get(f"{hub.console_url}/api/audit/verify", headers=auth).json()["whole"]
