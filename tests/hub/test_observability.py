"""What operators look at: a message's journey, the metrics read from the stores, the message log's
retention."""

from __future__ import annotations

import datetime as dt

import httpx

from hub.cli import main
from hub.operations.trace import trace
from hub.runtime import build
from hub.settings import Settings, environment, get_settings
from hub.store.failed import Filter
from tests.helpers import factory, hub_cli, metric, own_store, same_hub_environment, submit, wait_for


def test_trace_follows_a_message_through_retries_failure_and_replay(start_hub, spolis):
    hub = start_hub()
    f = factory(31)
    spolis.knobs.fault_rate = 1.0
    unknown = f.social_service().model_copy(update={"provider_register_no": "S77777"})
    message_id = submit(hub, [unknown])[unknown.record_id]
    wait_for(lambda: any(e.event == "retry_scheduled" for e in hub.message_log.events(message_id)), timeout=30)
    spolis.knobs.fault_rate = 0.0
    wait_for(lambda: hub.store.counts().get("failed") == 1, timeout=30)
    spolis.knobs.extra_providers = ["S77777"]
    service = hub.operators()
    service.replay(service.find(Filter()), operator="ops.ilze", reason="provider registered")
    wait_for(lambda: hub.store.counts().get("delivered") == 1, timeout=30)
    steps = [s.what for s in trace(message_id, hub.store, hub.failed, hub.message_log)]
    assert steps[:4] == ["received", "validated", "published", "retry_scheduled"]
    assert steps.index("failed") < steps.index("replayed") < steps.index("delivered")
    assert steps[-1] in ("now", "store")
    done = hub_cli("trace", message_id, env=same_hub_environment(hub))
    assert done.returncode == 0 and "replayed" in done.stdout and "NEZINAMS_SNIEDZEJS" in done.stdout
    assert unknown.person_code not in done.stdout


def test_store_metrics_and_connections_are_exported(start_hub, spolis):
    hub = start_hub()
    spolis.stop()
    submit(hub, factory(32).batch(3))
    wait_for(lambda: metric(hub, "hub_oldest_undelivered_message_age_seconds", {"target": "spolis"}) > 0.2)
    assert metric(hub, "hub_broker_connected", {}) == 1
    assert metric(hub, "hub_consumers", {"state": "connected"}) >= 3
    assert "hub_build_info{python=" in httpx.get(f"{hub.gateway_url}/metrics").text
    spolis.start()
    wait_for(lambda: metric(hub, "hub_oldest_undelivered_message_age_seconds", {"target": "spolis"}) == 0, timeout=60)


def test_the_message_log_forgets_after_its_retention(start_hub, spolis):
    hub = start_hub(message_log_retention_days=1)
    ids = submit(hub, factory(33).batch(2))
    wait_for(lambda: hub.store.counts().get("delivered") == 2)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    recent, forgotten = ids.values()
    hub.message_log.record([(forgotten, "retry_scheduled", {"attempt": 1})], at=old)
    hub.message_log.record([(recent, "retry_scheduled", {"attempt": 1})])
    assert hub.purge()["message_log_events"] == 1
    assert hub.message_log.events(recent) and not hub.message_log.events(forgotten)
    steps = [s.what for s in trace(forgotten, hub.store, hub.failed, hub.message_log)]
    assert steps == ["received", "validated", "published", "delivered", "now"]  # the status still tells


def test_trace_of_an_unknown_message(capsys, tmp_path, monkeypatch):
    settings = Settings(**own_store(tmp_path))
    build(settings).operators(None)  # the hub's store, as the hub made it
    for name, value in environment(settings).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert main(["trace", "00000000-0000-4000-8000-000000000000"]) == 1
    finally:
        get_settings.cache_clear()
