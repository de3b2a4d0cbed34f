"""The console's pages over HTTP, on a hub whose SPOLIS refuses part of a load: each page shows what
the store holds, filters filter, the list pages, person codes stay pseudonyms until an operator
reveals them (audited), a replay is a dry run, a confirmation and a job that sends each message once,
a discard needs a reason, an edit is validated again with each error by its field, and a viewer is
refused every POST."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lxml import html
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from hub.console.app import console_app
from hub.console.replays import ReplayJobs
from hub.runtime.hub import Hub
from hub.store.audit import audit_log
from hub.store.failed import Filter
from hub.store.operators import OperatorStore
from hub.store.status import message_status
from tests.helpers import envelope, factory, failure, submit, wait_for
from tests.helpers.console import PASSWORD, UNKNOWN_PROVIDER, refused_load


def page_of(response) -> html.HtmlElement:  # type: ignore[no-untyped-def]
    return html.fromstring(response.text)


def texts(response, xpath: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [" ".join(e.text_content().split()) for e in page_of(response).xpath(xpath)]


def cells(response, column: int, table: str = "messages") -> list[str]:  # type: ignore[no-untyped-def]
    """The `column`th cell (from 1) of each row of the table whose id is `table`."""
    return texts(response, f"//table[@id='{table}']/tbody/tr/td[{column}]")


def test_failed_groups_filters_and_pages(site, spolis):
    hub = site.hub
    refused_load(hub, 4)
    ops = site.client("ops.anna")

    listing = ops.get("/failed")
    assert listing.status_code == 200
    (group,) = texts(listing, "//table[@id='groups']/tbody/tr")
    assert "spolis" in group and "target_rejected" in group and f"provider {UNKNOWN_PROVIDER}" in group
    assert " 4 " in f" {group} "
    assert cells(listing, 2) == ["1", "2", "3", "4"]

    for query, shown in [
        ("target=spolis", 4),
        ("system=sopa", 4),
        ("type=social_assistance.social_service.v1", 4),
        ("error_class=target_rejected", 4),
        ("target=vsaa", 0),
        ("error_class=validation", 0),
        ("type=social_assistance.benefit.v1", 0),
        ("since=2099-01-01", 0),
        ("until=2000-01-01", 0),
        ("state=resolved", 0),
    ]:
        answer = ops.get(f"/failed?{query}")
        assert answer.status_code == 200 and len(cells(answer, 2)) == shown, query
    wrong = ops.get("/failed?since=yesterday")
    assert wrong.status_code == 400 and "yesterday" in wrong.text

    hub.failed.put([failure(envelope(), f"SPOLIS said no to {i}", "target_unavailable") for i in range(96)], _now())
    seen: list[str] = []
    path = "/failed?target=spolis"
    while path:
        answer = ops.get(path)
        seen += cells(answer, 2)
        links = page_of(answer).xpath("//a[@rel='next']/@href")
        path = links[0] if links else ""
    assert seen == [str(i) for i in range(1, 101)], "every entry once, in order, over two pages"
    only = ops.get("/failed?error_class=target_unavailable&after=90")
    assert cells(only, 2) == [str(i) for i in range(91, 101)]


def test_person_codes_are_pseudonyms_until_an_operator_reveals_them(site, spolis):
    hub = site.hub
    refused_load(hub, 1)
    (message,) = hub.operators().find(Filter())
    code = hub.failed.envelope(message.id)[0].payload["person_code"]
    ops = site.client("ops.ilze")

    shown = ops.get(f"/failed/{message.id}")
    assert shown.status_code == 200 and message.message_id in shown.text
    assert code not in shown.text and hub.pseudonymize(code) in shown.text
    assert "PersonasKods" in shown.text, "the original XML"
    assert cells(shown, 3, "attempts") == ["target_rejected"]

    revealed = ops.post(f"/failed/{message.id}/reveal")
    assert revealed.status_code == 200 and code in revealed.text

    views = [e for e in hub.operators().audit_entries() if e.action == "view" and e.subject == str(message.id)]
    assert [(e.operator, e.details["person_codes"]) for e in views] == [
        ("ops.ilze", "in clear"),
        ("ops.ilze", "as pseudonyms"),
    ]
    assert ops.get("/failed/9999").status_code == 404


def test_a_group_is_replayed_after_a_dry_run_and_a_confirmation_each_message_once(site, spolis):
    hub = site.hub
    ids, refused = refused_load(hub, 4)
    (group,) = hub.operators().groups(Filter())
    ops = site.client("ops.anna")

    dry = ops.post("/replay", {"group": group.group_id, "dry_run": "1"})
    assert dry.status_code == 200 and "4 would be replayed" in " ".join(texts(dry, "//main//p"))
    assert sorted(page_of(dry).xpath("//main//a[starts-with(@href, '/failed/')]/text()")) == ["1", "2", "3", "4"]
    assert hub.store.counts().get("failed") == 4, "a dry run sends nothing"

    unexplained = ops.post("/replay/confirm", {"group": group.group_id, "reason": " "})
    assert unexplained.status_code == 400 and texts(unexplained, "//*[@id='reason-error']")
    spolis.knobs.extra_providers = [UNKNOWN_PROVIDER]
    confirmed = ops.post("/replay/confirm", {"group": group.group_id, "reason": "provider registered"})
    assert confirmed.status_code == 303 and re.fullmatch(r"/replays/\d+", confirmed.headers["location"])

    progress = wait_for(lambda: (p := ops.get(confirmed.headers["location"])) and "done" in p.text and p)
    assert "4 of 4 handled, 4 replayed, 0 not replayed" in " ".join(texts(progress, "//*[@role='status']"))
    assert not page_of(progress).xpath("//meta[@http-equiv='refresh']"), "a finished job stops refreshing"
    wait_for(lambda: hub.store.counts().get("delivered") == 6)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["duplicates"] == 0
    replays = [e for e in hub.operators().audit_entries() if e.action == "replay"]
    assert [(e.operator, e.reason) for e in replays] == [("ops.anna", "provider registered")]


def test_ticked_messages_are_replayed_and_a_running_job_refreshes_itself(site, spolis):
    hub = site.hub
    refused_load(hub, 4)
    ops = site.client("ops.anna")
    dry = ops.post("/replay", {"ids": ["2", "4"], "dry_run": "1"})
    assert "2 would be replayed" in dry.text
    site.jobs.stop()  # nothing works the job off: it stays running
    confirmed = ops.post("/replay/confirm", {"ids": ["2", "4"], "reason": "retry"})
    running = ops.get(confirmed.headers["location"])
    assert page_of(running).xpath("//meta[@http-equiv='refresh']") and "0 of 2 handled" in running.text
    job = int(confirmed.headers["location"].rsplit("/", 1)[1])
    assert site.jobs.get(job).remaining == [2, 4]  # type: ignore[union-attr]
    assert ops.post("/replay", {"ids": ["2", "x"], "dry_run": "1"}).status_code == 400
    assert ops.post("/replay", {"dry_run": "1"}).status_code == 400


def test_a_discard_needs_a_reason(site, spolis):
    hub = site.hub
    refused_load(hub, 2)
    ops = site.client("ops.anna")
    refused = ops.post("/failed/1/discard", {"reason": "  "})
    assert refused.status_code == 400
    assert texts(refused, "//*[@id='discard-error']") == ["Say why it is discarded: a reason is required."]
    assert page_of(refused).xpath("//input[@id='discard-reason']/@aria-describedby") == ["discard-error"]
    assert {m.state for m in hub.operators().find(Filter(states=("failed", "discarded")))} == {"failed"}

    done = ops.post("/failed/1/discard", {"reason": "a paper decision replaced it"})
    assert done.status_code == 303
    assert [m.id for m in hub.operators().find(Filter(states=("discarded",)))] == [1]
    entry = hub.operators().audit_entries()[0]
    assert (entry.operator, entry.action, entry.reason) == ("ops.anna", "discard", "a paper decision replaced it")


def test_an_edit_is_validated_again_with_each_error_next_to_its_field(site, spolis):
    hub = site.hub
    _, refused = refused_load(hub, 1)
    ops = site.client("ops.anna")
    form_page = ops.get("/failed/1/edit")
    fields = {
        e.get("name"): e.get("value") if e.tag == "input" else e.text or ""
        for e in page_of(form_page).xpath("//form[@class='record']//*[starts-with(@name, 'field.')]")
    }
    assert fields["field.provider_register_no"] == UNKNOWN_PROVIDER
    assert page_of(form_page).xpath("//label[@for='field-provider_register_no']")

    wrong = {**fields, "field.person_code": "010101-10000", "field.cost": "", "reason": "typo"}
    answer = ops.post("/failed/1/edit", {**wrong, "replay": "1"})
    assert answer.status_code == 422
    errors = {e.get("id"): " ".join(e.text_content().split()) for e in page_of(answer).xpath("//*[@class='error']")}
    assert set(errors) >= {"error-person_code", "error-cost"}
    assert page_of(answer).xpath("//input[@name='field.person_code']/@value") == ["010101-10000"], "kept as typed"
    assert hub.failed.envelope(1)[0].payload["provider_register_no"] == UNKNOWN_PROVIDER, "nothing saved"

    saved = ops.post(
        "/failed/1/edit", {**fields, "field.provider_register_no": "S00001", "reason": "typo"} | {"replay": "1"}
    )
    assert saved.status_code == 303
    wait_for(lambda: refused <= set(spolis.store.message_ids()))
    edit = next(e for e in hub.operators().audit_entries() if e.action == "edit")
    assert (edit.operator, edit.details["fields_changed"]) == ("ops.anna", ["provider_register_no"])


def test_a_viewer_sees_every_page_and_is_refused_every_post(site, spolis):
    hub = site.hub
    _, refused = refused_load(hub, 2)
    (group,) = hub.operators().groups(Filter())
    viewer = site.client("view.vera", "viewer")
    for path in ("/", "/failed", "/failed/1", "/audit", f"/trace/{min(refused)}", "/replays"):
        answer = viewer.get(path)
        assert answer.status_code == 200 and not page_of(answer).xpath("//main//form[@method='post']"), path
    assert viewer.get("/failed/1/edit").status_code == 403
    for path, form in [
        ("/replay", {"group": group.group_id, "dry_run": "1"}),
        ("/replay/confirm", {"group": group.group_id, "reason": "I may not"}),
        ("/failed/1/discard", {"reason": "I may not"}),
        ("/failed/1/edit", {"reason": "I may not"}),
        ("/failed/1/reveal", {}),
    ]:
        assert viewer.post(path, form).status_code == 403, path
    assert hub.store.counts().get("failed") == 2
    assert {e.action for e in hub.operators().audit_entries()} <= {"view", "login"}


def test_the_overview_counts_flows_and_turns_red_where_an_alert_would_fire(site, spolis):
    hub = site.hub
    refused_load(hub, 4)
    ops = site.client("ops.anna")
    overview = ops.get("/")
    assert texts(overview, "//table[@id='flows']/tbody/tr/td") == ["F1", "sopa", "spolis", "6", "2", "0", "4"]
    by_target = "//table[@id='received']//tr[th='{}']/td"
    assert texts(overview, by_target.format("spolis")) == ["6", "2", "0", "4"] * 2
    assert texts(overview, by_target.format("burvis")) == ["0"] * 8
    spolis_row = page_of(overview).xpath("//table[@id='targets']//tr[th='spolis']")[0]
    assert [c.text_content().strip() for c in spolis_row.xpath("td")] == [
        "none waiting",
        "4",
        "4",
        "closed",  # this process runs the workers too (`hub serve --role all`), so it knows
        "0",  # its workers took every message from the queue
    ]
    assert not page_of(overview).xpath("//td[contains(@class, 'alert')]")

    hub.failed.put([failure(envelope(), f"no {i}") for i in range(50)], _now())
    submit(hub, [factory(3).benefit()])
    with hub.db.engine.begin() as conn:  # a record waiting two hours: as if SPOLIS had been away that long
        conn.execute(
            update(message_status)
            .where(message_status.c.status == "delivered")
            .values(status="accepted", accepted_at=_now() - dt.timedelta(hours=2))
        )
    red = page_of(ops.get("/")).xpath("//tr[th='spolis']/td[contains(@class, 'alert')]")
    assert [" ".join(c.text_content().split()) for c in red] == ["2 h 0 min (over an hour)", "54 (growing)"]


def test_the_audit_trail_is_searched_and_its_chain_checked(site, spolis):
    hub = site.hub
    refused_load(hub, 2)
    site.client("ops.anna").get("/failed/1")
    site.client("ops.ilze").post("/failed/2/discard", {"reason": "duplicate"})
    ops = site.client("ops.anna")

    trail = ops.get("/audit")
    assert "The chain holds" in " ".join(texts(trail, "//*[@role='status']"))
    assert {"ops.anna", "ops.ilze"} <= set(cells(trail, 3, "entries"))
    assert set(cells(ops.get("/audit?q=ilze"), 3, "entries")) == {"ops.ilze"}
    assert set(cells(ops.get("/audit?q=discard"), 4, "entries")) == {"discard"}
    assert cells(ops.get("/audit?q=50%25"), 1, "entries") == ["No entries hold “50%”."]

    with hub.db.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.action == "discard").values(reason="nothing to see"))
    broken = ops.get("/audit")
    assert "The chain is broken" in " ".join(texts(broken, "//*[@role='alert']"))


def test_a_trace_shows_the_journey_of_one_message(site, spolis):
    hub = site.hub
    _, refused = refused_load(hub, 1)
    (message_id,) = refused
    ops = site.client("ops.anna")
    shown = ops.get(f"/trace/{message_id}")
    steps = cells(shown, 2, "steps")
    assert steps[:3] == ["received", "validated", "published"] and "failed" in steps
    assert page_of(shown).xpath("//a[@href='/failed/1']")
    assert ops.get("/trace/no-such-message").status_code == 404


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Client:
    """One person's browser, without a browser: their cookies, logged in through the login form, and
    every POST with the CSRF token their pages carry."""

    def __init__(self, app: Starlette, name: str, password: str) -> None:
        self.http = TestClient(app, follow_redirects=False)
        login = self.http.get("/login")
        answer = self.http.post("/login", data={"name": name, "password": password, "csrf": csrf_of(login)})
        assert answer.status_code == 303, answer.text
        self.csrf = csrf_of(self.http.get("/"))

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf, **(data or {})})


def csrf_of(response: httpx.Response) -> str:
    (token,) = set(page_of(response).xpath("//input[@name='csrf']/@value"))
    return str(token)


@dataclass
class Site:
    """A hub (gateway and workers, the embedded broker) and its console's app, in this process."""

    hub: Hub
    jobs: ReplayJobs
    app: Starlette

    def client(self, name: str, role: str = "operator") -> Client:
        accounts = OperatorStore(self.hub.db)
        if accounts.account(name) is None:
            accounts.add(name, role, PASSWORD)
        return Client(self.app, name, PASSWORD)


@pytest.mark.parametrize("broker", ["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def test_the_overview_shows_what_waits_in_each_targets_queue(start_hub, request, broker):
    url = "memory://" if broker == "memory" else request.getfixturevalue("amqp_url")
    hub = start_hub(url, workers=False)  # nobody consumes: what the gateway accepted waits in the queue
    submit(hub, factory(8).batch(3))
    service = hub.operators()
    site = Site(hub, ReplayJobs(hub.db, service), console_app(hub.parts, service))
    overview = site.client("ops.anna").get("/")
    backlog = "//table[@id='targets']//tr[th='{}']/td[last()]"
    assert texts(overview, backlog.format("spolis")) == ["1"]  # the load's three records travel as one message
    assert texts(overview, backlog.format("burvis")) == ["0"]


@pytest.fixture
def site(start_hub) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    hub = start_hub()
    service = hub.operators()
    jobs = ReplayJobs(hub.db, service).start()
    yield Site(hub, jobs, console_app(hub.parts, service, jobs=jobs))
    jobs.stop()
