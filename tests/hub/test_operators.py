"""Operators find, fix, replay and discard failed messages; every action is audited; a replay
keeps the message id, so nothing reaches SPOLIS twice."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from cryptography.fernet import Fernet

from hub.errors import ValidationFailed
from hub.store.crypto import KeyUnavailable, Sealer
from hub.store.db import Database
from hub.store.failed import FailedStore, Filter
from hub.store.operators import OperatorStore
from hub.store.status import StatusStore
from tests.helpers import factory, hub_cli, same_hub_environment, submit, wait_for


def refused_load(hub, spolis, count: int = 4) -> tuple[dict[str, str], set[str]]:
    """A load where `count` services name a provider SPOLIS does not know; waits until all settled."""
    f = factory(11)
    unknown = [f.social_service().model_copy(update={"provider_register_no": "S77777"}) for _ in range(count)]
    ids = submit(hub, [f.benefit(), *unknown, f.household_status()])
    wait_for(lambda: hub.store.counts().get("failed") == count and hub.store.counts().get("delivered") == 2)
    return ids, {ids[r.record_id] for r in unknown}


def test_a_group_is_replayed_after_the_target_is_fixed_and_arrives_once(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    ids, refused = refused_load(hub, spolis)
    service = hub.operators()
    (group,) = service.groups(Filter())
    assert (group.count, group.error_class, group.target) == (4, "target_rejected", "spolis")

    spolis.knobs.extra_providers = ["S77777"]
    outcome = service.replay(service.select(where=Filter(group_id=group.group_id)), operator="ops.anna", reason="fixed")
    assert len(outcome.replayed) == 4 and not outcome.skipped
    wait_for(lambda: hub.store.counts().get("delivered") == 6)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["duplicates"] == 0
    assert not service.groups(Filter())
    wait_for(lambda: {m.state for m in service.find(Filter(states=("resolved",)))} == {"resolved"})
    entry = service.audit_entries()[0]
    assert (entry.operator, entry.action, entry.reason) == ("ops.anna", "replay", "fixed")
    assert service.audit.verify().whole


def test_replaying_twice_or_a_delivered_message_has_no_second_effect(start_hub, spolis):
    hub = start_hub()
    _, refused = refused_load(hub, spolis, count=1)
    service = hub.operators()
    spolis.knobs.extra_providers = ["S77777"]
    first = service.replay(service.select(where=Filter()), operator="ops", reason="r")
    again = service.replay(service.select(first.replayed), operator="ops", reason="r")
    assert again.replayed == [] and "replayed, not failed" in next(iter(again.skipped.values()))
    wait_for(lambda: refused <= set(spolis.store.message_ids()))
    assert spolis.store.stats()["duplicates"] == 0


def test_edit_checks_the_payload_again_then_replays(start_hub, spolis):
    hub = start_hub()
    _, refused = refused_load(hub, spolis, count=1)
    service = hub.operators()
    (message,) = service.find(Filter())
    payload = service.show(message.id, operator="ops", where="test").envelope["payload"]
    with pytest.raises(ValidationFailed) as caught:
        service.edit(message.id, {**payload, "person_code": "010101-10000"}, operator="ops", reason="typo")
    assert [(e.field, e.rule) for e in caught.value.errors] == [("payload/person_code", "person-code-checksum")]
    outcome = service.edit(message.id, {**payload, "provider_register_no": "S00001"}, operator="ops", reason="typo")
    assert outcome.replayed == [message.id]
    wait_for(lambda: refused <= set(spolis.store.message_ids()))
    assert [e.action for e in service.audit_entries()][:2] == ["replay", "edit"]


def test_discard_needs_a_reason_and_quarantine_stops_endless_replays(start_hub, spolis):
    hub = start_hub()
    refused_load(hub, spolis, count=2)
    service = hub.operators()
    service.max_replays = 1
    first, second = service.find(Filter())
    with pytest.raises(ValueError):
        service.discard([first], operator="ops", reason=" ")
    assert service.discard([first], operator="ops", reason="duplicate of a paper decision") == [first.id]
    service.replay([second], operator="ops", reason="try")
    wait_for(lambda: service.find(Filter(states=("failed",))))
    (again,) = service.find(Filter())
    assert again.replay_count == 1
    held = service.replay([again], operator="ops", reason="try again")
    assert held.replayed == [] and "quarantined" in held.skipped[again.id]
    assert service.replay([again], operator="ops", reason="forced", force=True).replayed == [again.id]


@pytest.mark.rabbitmq
def test_the_operator_commands_as_an_operator_runs_them(start_hub, amqp_url, spolis, tmp_path):
    hub = start_hub(amqp_url)
    ids, refused = refused_load(hub, spolis, count=3)
    env = {**same_hub_environment(hub), "HUB_OPERATOR": "ops.janis"}
    listing = hub_cli("failed", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    group = listing.stdout.splitlines()[1].split()[0]
    assert " 3 " in listing.stdout.splitlines()[1]

    messages = json.loads(hub_cli("failed", "list", "--messages", "--json", env=env).stdout)
    assert {m["message_id"] for m in messages} == refused
    shown = hub_cli("failed", "show", str(messages[0]["id"]), env=env)
    assert "NEZINAMS_SNIEDZEJS" in shown.stdout and "original XML:" in shown.stdout

    dry = hub_cli("failed", "replay", "--group", group, "--dry-run", env=env)
    assert "would replay 3" in dry.stdout
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/"S77777"/"S00002"/\' "$1"\n', encoding="utf-8")
    editor.chmod(0o755)
    edited = hub_cli(
        "failed", "edit", str(messages[0]["id"]), "--reason", "wrong provider", env={**env, "EDITOR": str(editor)}
    )
    assert edited.returncode == 0, edited.stderr
    discarded = hub_cli("failed", "discard", str(messages[1]["id"]), "--reason", "entered twice", env=env)
    assert "discarded 1" in discarded.stdout
    spolis.knobs.extra_providers = ["S77777"]
    replayed = hub_cli("failed", "replay", "--group", group, "--reason", "provider registered", env=env)
    assert "replayed 1" in replayed.stdout, replayed.stdout + replayed.stderr
    wait_for(lambda: {messages[0]["message_id"], messages[2]["message_id"]} <= set(spolis.store.message_ids()))
    assert messages[1]["message_id"] not in spolis.store.message_ids()

    audit = hub_cli("audit", "list", env=env)
    actions = [line.split()[4] for line in audit.stdout.splitlines()]
    assert actions == ["view", "view", "edit", "replay", "discard", "replay"]  # show, then edit's own look
    assert all("ops.janis" in line for line in audit.stdout.splitlines())
    assert hub_cli("audit", "verify", env=env).returncode == 0


def test_the_admin_api(start_hub, spolis):
    hub = start_hub(admin_port=0)
    _, refused = refused_load(hub, spolis, count=2)
    api = f"{hub.console_url}/api"
    accounts = OperatorStore(hub.db)
    accounts.add("ops.liga", "operator", "correct horse battery staple")
    accounts.add("ops.vera", "viewer", "correct horse battery staple")
    ops = {"Authorization": f"Bearer {accounts.new_token('ops.liga')}", "X-Operator": "someone.else"}
    viewer = {"Authorization": f"Bearer {accounts.new_token('ops.vera')}"}
    assert httpx.get(f"{api}/failed").status_code == 401
    assert httpx.get(f"{api}/failed", headers={"Authorization": "Bearer hub_guessed"}).status_code == 401
    groups = httpx.get(f"{api}/failed", headers=viewer).json()
    assert groups[0]["count"] == 2
    messages = httpx.get(f"{api}/failed", params={"view": "messages"}, headers=viewer).json()
    refused_to_viewer = httpx.post(f"{api}/failed/replay", json={"ids": [1]}, headers=viewer)
    assert refused_to_viewer.status_code == 403 and "viewer" in refused_to_viewer.json()["error"]
    detail = httpx.get(f"{api}/failed/{messages[0]['id']}", headers=ops).json()
    assert detail["envelope"]["payload"]["provider_register_no"] == "S77777"
    bad = httpx.post(
        f"{api}/failed/{messages[0]['id']}/edit", json={"payload": {"amount": "x"}, "reason": "r"}, headers=ops
    )
    assert bad.status_code == 422
    spolis.knobs.extra_providers = ["S77777"]
    replay = httpx.post(f"{api}/failed/replay", json={"filter": {"target": "spolis"}, "reason": "fixed"}, headers=ops)
    assert sorted(replay.json()["replayed"]) == sorted(m["id"] for m in messages)
    wait_for(lambda: refused <= set(spolis.store.message_ids()))
    audit = httpx.get(f"{api}/audit", headers=viewer).json()
    assert audit[0]["operator"] == "ops.liga", "the name comes from the token, never from a header"
    assert httpx.get(f"{api}/audit/verify", headers=viewer).json()["whole"]


def test_the_admin_api_is_never_on_the_partners_port(start_hub):
    hub = start_hub(admin_port=0)
    for path in ("/admin/failed", "/api/failed"):
        assert httpx.get(f"{hub.gateway_url}{path}").status_code == 404


def test_key_rotation_keeps_old_records_readable(start_hub, spolis, tmp_path):
    hub = start_hub()
    refused_load(hub, spolis, count=1)
    old_key = hub.settings.store_key_file.read_bytes().strip()
    new_key = Fernet.generate_key()
    both = Database(hub.settings.store_url, Sealer([new_key, old_key]))
    (message,) = FailedStore(both, StatusStore(both)).find(Filter())
    envelope, _ = FailedStore(both, StatusStore(both)).envelope(message.id)
    assert envelope is not None
    assert FailedStore(both, StatusStore(both)).rotate_keys() >= 2
    only_new_db = Database(hub.settings.store_url, Sealer([new_key]))
    only_new = FailedStore(only_new_db, StatusStore(only_new_db))
    assert only_new.envelope(message.id)[0] == envelope
    with pytest.raises(KeyUnavailable):
        old_db = Database(hub.settings.store_url, Sealer([old_key]))
        FailedStore(old_db, StatusStore(old_db)).envelope(message.id)


def test_payloads_are_not_stored_in_clear(start_hub, spolis):
    hub = start_hub()
    f = factory(12)
    unknown = f.social_service().model_copy(update={"provider_register_no": "S77777"})
    submit(hub, [unknown])
    wait_for(lambda: hub.store.counts().get("failed") == 1)
    database = hub.settings.store_url.removeprefix("sqlite:///")
    raw = b"".join(open(p, "rb").read() for p in (database, database + "-wal") if os.path.exists(p))
    assert unknown.person_code.encode() not in raw
    assert unknown.provider_name.encode() not in raw
