"""Replay jobs: stored, worked through in chunks, and resumed by a new runner (a hub started again)
where the one before stopped, with every message replayed once."""

from __future__ import annotations

from collections import Counter

from hub.console.replays import JobState, ReplayJobs
from hub.simulation.local import free_port
from hub.store.failed import Filter
from tests.helpers import wait_for
from tests.helpers.console import UNKNOWN_PROVIDER, refused_load


def replayed_events(hub, message_ids) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(mid for mid in message_ids for event in hub.message_log.events(mid) if event.event == "replayed")


def test_a_job_stopped_half_way_is_finished_by_the_next_runner_each_message_once(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    ids, refused = refused_load(hub, 12)
    spolis.knobs.extra_providers = [UNKNOWN_PROVIDER]
    service = hub.operators()
    chosen = [m.id for m in service.find(Filter())]
    first = ReplayJobs(hub.db, service, chunk=5)
    job = first.create(chosen, operator="ops.anna", reason="provider registered", selection={"filter": {}})

    assert first.work(max_chunks=1) == 1
    first.stop()  # the hub stops after one chunk
    halfway = first.get(job)
    assert halfway is not None
    assert (halfway.state, halfway.replayed, len(halfway.remaining)) == (JobState.RUNNING, 5, 7)

    second = ReplayJobs(hub.db, hub.operators(), chunk=5).start()  # the hub started again
    try:
        done = wait_for(lambda: (j := second.get(job)) and j.state == JobState.DONE and j)
    finally:
        second.stop()
    assert (done.total, done.replayed, done.remaining, done.skipped) == (12, 12, [], {})
    assert replayed_events(hub, refused) == Counter({mid: 1 for mid in refused})
    wait_for(lambda: hub.store.counts().get("delivered") == 14)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["duplicates"] == 0
    actions = [(e.operator, e.action) for e in service.audit_entries()]
    assert actions.count(("ops.anna", "replay")) == 3 and ("ops.anna", "replay-job") in actions


def test_a_chunk_confirmed_before_a_stop_is_counted_not_sent_again(start_hub, spolis):
    hub = start_hub()
    _, refused = refused_load(hub, 4)
    spolis.knobs.extra_providers = [UNKNOWN_PROVIDER]
    service = hub.operators()
    messages = service.find(Filter())
    jobs = ReplayJobs(hub.db, service, chunk=10)
    job = jobs.create([m.id for m in messages], operator="ops", reason="fixed", selection={"ids": []})
    service.replay(messages[:2], operator="ops", reason="fixed")  # published, then the hub stopped

    jobs.work()
    done = jobs.get(job)
    assert done is not None and (done.state, done.replayed, done.skipped) == (JobState.DONE, 4, {})
    assert replayed_events(hub, refused) == Counter({mid: 1 for mid in refused})


def test_a_job_whose_chunk_fails_keeps_its_messages_and_says_why(start_hub, spolis):
    hub = start_hub()
    refused_load(hub, 2)
    service = hub.parts.operators(None)  # no publisher: every replay fails
    jobs = ReplayJobs(hub.db, service)
    job = jobs.create([m.id for m in service.find(Filter())], operator="ops", reason="r", selection={})
    jobs.work()
    held = jobs.get(job)
    assert held is not None and held.state == JobState.RUNNING and len(held.remaining) == 2
    assert "needs the broker" in (held.error or "")
    assert jobs.work() == 0, "it waits before trying again"


def test_a_hub_serving_the_console_takes_up_the_job_a_stopped_one_left(start_hub, spolis):
    first = start_hub()
    ids, refused = refused_load(first, 6)
    left = ReplayJobs(first.db, first.operators(), chunk=4)
    job = left.create([m.id for m in first.operators().find(Filter())], operator="ops", reason="r", selection={})
    spolis.knobs.extra_providers = [UNKNOWN_PROVIDER]
    left.work(max_chunks=1)
    left.stop()  # the console's process stopped after one chunk
    first.stop()

    second = start_hub(admin_port=free_port())  # the same store: the hub started again, console on
    assert second.console_url is not None
    done = wait_for(lambda: (j := left.get(job)) and j.state == JobState.DONE and j)
    assert (done.replayed, done.skipped) == (6, {})
    assert replayed_events(first, refused) == Counter({mid: 1 for mid in refused})
    wait_for(lambda: sorted(spolis.store.message_ids()) == sorted(ids.values()))
    assert spolis.store.stats()["duplicates"] == 0
