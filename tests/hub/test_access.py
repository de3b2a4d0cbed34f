"""The access table decides who may send and ask what; a refusal is a Client Fault naming the rule,
counted by outcome. GetStatus answers only about the asker's own receipts."""

from __future__ import annotations

import random

import pytest

from adapters.sopa.dialect import from_canonical
from hub.canonical import AssistantOpinion
from hub.rules.access import AccessConfigError, AccessTable
from hub.rules.routing import Router
from hub.settings import PROJECT_ROOT, Settings
from hub.simulation.client import HubClient
from hub.simulation.people import person_code
from hub.systems import discover
from tests.helpers import RIGA, ask, ep51, factory, metric, submit

SYSTEMS = discover()
ROUTER = Router.load(Settings().routes_file, SYSTEMS)
PRODUCTION = AccessTable.load(PROJECT_ROOT / "config" / "access.toml", SYSTEMS, ROUTER)


def load(tmp_path, text: str) -> AccessTable:
    path = tmp_path / "access.toml"
    path.write_text(text, encoding="utf-8")
    return AccessTable.load(path, SYSTEMS, ROUTER)


def test_the_production_table_says_who_may_do_what():
    assert PRODUCTION.allows("sopa", "vsaa.ep51.v1") and PRODUCTION.allows("lietis", "vsaa.ep51.v1")
    assert not PRODUCTION.allows("gvs", "vsaa.ep51.v1")
    assert PRODUCTION.senders(AssistantOpinion.TYPE) == {"vdeavk"}
    assert PRODUCTION.senders("vdeavk.universal_service_data.v1") == {"sopa", "lietis", "spolis"}
    assert not PRODUCTION.allows("vsaa", "vsaa.ep51.v1")  # answers queries, sends nothing


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[vsaa]\nsend = ["social_assistance.benefit.v1"]\n', "not a system that calls the hub"),
        ("[nobody]\nsend = []\n", "not a system that calls the hub"),
        ('[sopa]\nsend = ["vsaa.ep51.v1"]\n', "not a send type"),
        ('[sopa]\nquery = ["social_assistance.benefit.v1"]\n', "not a query type"),
        ('[sopa]\nreceive = ["social_assistance.benefit.v1"]\n', "give `send`"),
    ],
)
def test_a_table_with_mistakes_is_refused_at_start(tmp_path, text, complaint):
    with pytest.raises(AccessConfigError, match=complaint):
        load(tmp_path, text)


def without(system: str, type_: str) -> str:
    """The production table with one grant withdrawn."""
    text = (PROJECT_ROOT / "config" / "access.toml").read_text(encoding="utf-8")
    section = text.index(f"[{system}]")
    end = text.find("\n[", section + 1)
    end = len(text) if end < 0 else end
    return text[:section] + text[section:end].replace(f'"{type_}",', "").replace(f'"{type_}"', "") + text[end:]


def test_a_withdrawn_query_right_is_refused_and_counted(start_hub, vsaa, tmp_path):
    access = tmp_path / "access.toml"
    access.write_text(without("lietis", "vsaa.ep51.v1"), encoding="utf-8")
    hub = start_hub(access_file=access)
    code = person_code(random.Random(3))
    labels = {"system": "lietis", "operation": "EP51", "outcome": "unauthorised"}
    before = metric(hub, "hub_gateway_requests_total", labels)
    refused = ask(hub, ep51(code), sender="lietis")
    assert refused.fault is not None and refused.fault.code == "Client"
    assert refused.fault.error_class == "unauthorised" and not refused.fault.retry
    assert [(e.field, e.rule) for e in refused.fault.errors] == [("EP51Pieprasijums", "not-authorised")]
    assert "lietis may not send or ask vsaa.ep51.v1" in refused.fault.errors[0].message
    assert metric(hub, "hub_gateway_requests_total", labels) == before + 1
    assert ask(hub, ep51(code), sender="sopa").fault is None  # SOPA keeps its right
    assert vsaa.calls == 1


def test_a_load_holding_a_type_its_sender_may_not_send_is_refused_whole(start_hub, tmp_path):
    access = tmp_path / "access.toml"
    access.write_text(without("sopa", "social_assistance.social_service.v1"), encoding="utf-8")
    hub = start_hub(access_file=access)
    f = factory(8)
    client = HubClient(hub.gateway_url, sender="sopa", retries=0)
    refused = client.submit(
        from_canonical([f.benefit(), f.social_service()], RIGA, "P-9"), destination="spolis", user_id="u", records=2
    )
    client.close()
    assert refused.fault is not None and refused.fault.error_class == "unauthorised"
    assert hub.store.counts() == {}
    submit(hub, [f.benefit()])  # what it may send still goes


def test_get_status_answers_only_about_the_asker_s_own_receipts(start_hub):
    hub = start_hub()
    ids = submit(hub, factory(9).batch(2))
    receipt = hub.store.message_status(next(iter(ids.values()))).receipt_id
    for system, known in (("sopa", True), ("lietis", False)):
        client = HubClient(hub.gateway_url, sender=system, retries=0)
        answer = client.status(receipt, destination="hub", user_id="u")
        client.close()
        assert (answer.fault is None) is known, answer.fault
        if not known:
            assert [e.rule for e in answer.fault.errors] == ["unknown-id"]
