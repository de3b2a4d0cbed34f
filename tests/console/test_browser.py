"""The operators' console in a real browser (Debian's chromium driven by Playwright): an operator logs
in, finds the records SPOLIS refused, fixes the cause at SPOLIS, replays the group and sees each
arrive once; and the console holds as the partners' port was attacked: a viewer cannot replay,
looking at person codes is audited, a forged cross-site form is refused, an idle session ends, a
guessed password is throttled and a session planted before login is worthless after it. Every page
is saved to var/console/ to be looked at."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from hub.console.app import SESSION_COOKIE
from hub.envelope import utcnow
from hub.simulation.local import free_port
from hub.store.failed import Filter
from hub.store.operators import console_sessions
from tests.helpers import wait_for
from tests.helpers.console import UNKNOWN_PROVIDER, log_in, refused_load

pytestmark = pytest.mark.slow

WRONG = "name or password is wrong"


def answering(html: str):  # type: ignore[no-untyped-def]
    """A route handler that answers a page of another site with `html`, as an attacker's server does."""
    return lambda route: route.fulfill(body=html, content_type="text/html")


def replay_button(scope):  # type: ignore[no-untyped-def]
    return scope.get_by_role("button", name=re.compile("replay", re.I))


@pytest.mark.rabbitmq
def test_an_operator_replays_what_spolis_refused_and_each_record_arrives_once(
    console, amqp_url, spolis, page, screenshot
):
    served = console(amqp_url)
    password = served.add_operator("ops.anna", command=True)
    ids, refused = refused_load(served.hub, count=3)

    log_in(page, served.url, "ops.anna", password)
    expect(page).to_have_url(f"{served.url}/")
    expect(page.locator("body")).to_contain_text("ops.anna")
    screenshot("overview")

    page.get_by_role("link", name="Failed", exact=True).click()
    group = page.locator("tr", has_text="target_rejected").first
    expect(group).to_contain_text("spolis")
    expect(group).to_contain_text("3")
    screenshot("failed")

    replay_button(group).click()
    expect(page.locator("body")).to_contain_text("3 would be replayed")
    failed_ids = {m.id for m in served.hub.operators().find(Filter())}
    listed = {int(a.inner_text()) for a in page.locator("a[href^='/failed/']").all()}
    assert listed == failed_ids
    screenshot("dry-run")
    assert served.hub.store.counts().get("failed") == 3, "a dry run replays nothing"

    spolis.knobs.extra_providers = [UNKNOWN_PROVIDER]
    page.fill("[name=reason]", "SPOLIS registered the provider")
    page.get_by_role("button", name="Replay 3 messages").click()
    expect(page).to_have_url(re.compile(r"/replays/\w+$"))
    wait_for(lambda: served.hub.store.counts().get("delivered") == 5)
    expect(page.get_by_role("status")).to_contain_text("3 of 3 handled, 3 replayed", timeout=15_000)
    screenshot("replay-job")

    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert spolis.store.stats()["duplicates"] == 0
    page.goto(f"{served.url}/failed")
    expect(page.locator("tr", has_text="target_rejected")).to_have_count(0)
    for message_id in sorted(refused):
        page.goto(f"{served.url}/trace/{message_id}")
        expect(page.locator("tr", has_text="replayed")).to_contain_text("ops.anna")
        expect(page.locator("tr").last).to_contain_text("delivered")
    screenshot("trace-delivered")
    page.get_by_role("link", name="Replays", exact=True).click()
    expect(page.locator("main tbody tr")).to_have_count(1)
    expect(page.locator("main tbody tr")).to_contain_text("ops.anna")
    screenshot("replays")
    entry = next(e for e in served.hub.operators().audit_entries() if e.action == "replay")
    assert (entry.operator, entry.reason) == ("ops.anna", "SPOLIS registered the provider")


def test_a_viewer_sees_the_failed_messages_but_cannot_replay_them(console, spolis, page, screenshot):
    served = console()
    password = served.add_operator("view.vera", "viewer", command=True)
    refused_load(served.hub, count=2)
    (group,) = served.hub.operators().groups(Filter())
    first = served.hub.operators().find(Filter())[0]

    log_in(page, served.url, "view.vera", password)
    page.goto(f"{served.url}/failed")
    expect(page.locator("tr", has_text="target_rejected").first).to_contain_text("2")
    expect(replay_button(page)).to_have_count(0)
    screenshot("failed-as-viewer")

    page.goto(f"{served.url}/failed/{first.id}")
    expect(page.locator("main")).to_contain_text("Only operators may reveal them")
    expect(page.locator("main button")).to_have_count(0)
    assert served.hub.failed.envelope(first.id)[0].payload["person_code"] not in page.content()
    screenshot("detail-as-viewer")
    assert page.goto(f"{served.url}/failed/{first.id}/edit").status == 403  # the record in clear
    screenshot("edit-as-viewer")

    csrf = page.locator("input[name=csrf]").first.get_attribute("value")  # the logout form's
    for path, form in (
        ("/replay", {"group": group.group_id, "dry_run": "1"}),
        ("/replay/confirm", {"group": group.group_id, "reason": "I may not"}),
        (f"/failed/{first.id}/discard", {"reason": "I may not"}),
        (f"/failed/{first.id}/reveal", {}),
    ):
        answer = page.request.post(f"{served.url}{path}", form={"csrf": csrf, **form})
        assert answer.status == 403, (path, answer.status)
    assert served.hub.store.counts().get("failed") == 2
    audited = served.hub.operators().audit_entries()
    assert not [e for e in audited if e.action in ("replay", "discard") or e.details.get("person_codes") == "in clear"]


def test_person_codes_are_pseudonyms_until_revealed_and_the_reveal_is_audited(console, spolis, page, screenshot):
    served = console()
    password = served.add_operator("ops.ilze")
    refused_load(served.hub, count=1)
    (message,) = served.hub.operators().find(Filter())
    envelope, _ = served.hub.failed.envelope(message.id)
    code = envelope.payload["person_code"]

    log_in(page, served.url, "ops.ilze", password)
    page.goto(f"{served.url}/failed/{message.id}")
    expect(page.locator("body")).to_contain_text(message.message_id)
    expect(page.locator("body")).to_contain_text(UNKNOWN_PROVIDER)
    assert code not in page.content()
    screenshot("detail")

    page.get_by_role("button", name=re.compile("reveal", re.I)).click()
    expect(page.locator("pre.payload").first).to_contain_text(code)  # the envelope
    expect(page.locator("pre.payload").last).to_contain_text(f"PersonasKods>{code}<")  # the original XML
    screenshot("revealed")

    revealed = [
        e
        for e in served.hub.operators().audit_entries()
        if e.subject == str(message.id) and e.details.get("person_codes") == "in clear"
    ]
    assert [e.operator for e in revealed] == ["ops.ilze"]
    page.goto(f"{served.url}/audit")
    expect(page.locator("tr", has_text='"in clear"')).to_contain_text("ops.ilze")
    expect(page.get_by_role("status")).to_contain_text("The chain holds")
    screenshot("audit")

    page.goto(f"{served.url}/failed/{message.id}/edit")
    expect(page.locator("[name='field.provider_register_no']")).to_have_value(UNKNOWN_PROVIDER)
    screenshot("edit")
    page.goto(f"{served.url}/trace/{message.message_id}")
    expect(page.locator("body")).to_contain_text("failed")
    screenshot("trace")


def test_a_forged_form_from_another_page_is_refused(console, spolis, page, screenshot):
    served = console()
    password = served.add_operator("ops.karlis")
    refused_load(served.hub, count=1)
    (message,) = served.hub.operators().find(Filter())
    log_in(page, served.url, "ops.karlis", password)
    expect(page).to_have_url(f"{served.url}/")

    target = f"{served.url}/failed/{message.id}/discard"
    # Another port of the same host is another origin but the same site: the session cookie goes along
    # even as SameSite=Strict, so only the token stops it (403). Another host name is another site: the
    # cookie stays home, and the console sees nobody logged in (403, or 303 to the login).
    for origin, token, same_site, refusals in (
        (f"http://127.0.0.1:{free_port()}", None, True, {403}),
        (f"http://127.0.0.1:{free_port()}", "forged-token", True, {403}),
        (f"http://localhost:{free_port()}", None, False, {403, 303}),
    ):
        hidden = f'<input type="hidden" name="csrf" value="{token}">' if token else ""
        forged = (
            f'<form method="post" action="{target}">{hidden}'
            '<input name="reason" value="forged"><button type="submit">win a prize</button></form>'
        )
        page.route(f"{origin}/", answering(forged))
        page.goto(f"{origin}/")
        with page.expect_response(target) as answer:
            page.get_by_role("button", name="win a prize").click()
        assert answer.value.status in refusals, (origin, token, answer.value.status)
        sent = answer.value.request.all_headers().get("cookie", "")
        assert (f"{SESSION_COOKIE}=" in sent) == same_site, (origin, sent)
        if answer.value.status == 303:
            assert answer.value.headers["location"].startswith("/login")
        assert served.hub.operators().find(Filter(states=("failed",))), "the entry was discarded"
    screenshot("forged-post-refused")
    assert not [e for e in served.hub.operators().audit_entries() if e.action == "discard"]

    # The console's own form does it, once it says why (spaces are no reason).
    page.goto(f"{served.url}/failed/{message.id}")
    page.fill("[name=reason]", "   ")
    page.get_by_role("button", name="Discard").click()
    expect(page.locator("#discard-error")).to_contain_text("a reason is required")
    assert served.hub.operators().find(Filter(states=("failed",)))
    screenshot("discard-needs-a-reason")
    page.fill("[name=reason]", "entered twice by the municipality")
    page.get_by_role("button", name="Discard").click()
    wait_for(lambda: served.hub.operators().find(Filter(states=("discarded",))))
    (entry,) = [e for e in served.hub.operators().audit_entries() if e.action == "discard"]
    assert (entry.operator, entry.reason) == ("ops.karlis", "entered twice by the municipality")


def test_a_guessed_password_is_throttled_with_the_same_answer(console, page, screenshot):
    served = console()
    password = served.add_operator("ops.maris")
    for attempt in range(5):
        log_in(page, served.url, "ops.maris", f"guess number {attempt}")
        expect(page.locator("body")).to_contain_text(WRONG)
    screenshot("login-wrong")
    log_in(page, served.url, "ops.maris", password)
    expect(page.locator("body")).to_contain_text(WRONG)
    assert "/login" in page.url
    screenshot("login-throttled")
    page.goto(f"{served.url}/failed")
    expect(page).to_have_url(re.compile(r"/login"))
    refused = [e for e in served.hub.operators().audit_entries() if e.action == "login-failed"]
    assert [e.operator for e in refused] == ["ops.maris"] * 6
    assert not [e for e in refused if "guess" in str(e.details) or password in str(e.details)]


def test_a_session_planted_before_login_is_worthless_after_it(console, new_context, page, screenshot):
    """An attacker logs in (a viewer) and plants their session cookie, and the pre-login one, in the
    victim's browser: the victim's login makes a new session and ends the planted one, so the attacker
    never holds the victim's session."""
    served = console()
    victim = served.add_operator("ops.liga")
    served.add_operator("view.eve", "viewer", password="eve's own long password")
    attacker = new_context().new_page()
    attacker.goto(f"{served.url}/login")
    screenshot("login", on=attacker)
    log_in(attacker, served.url, "view.eve", "eve's own long password")
    expect(attacker).to_have_url(f"{served.url}/")
    planted = attacker.context.cookies()
    assert {c["name"] for c in planted} >= {SESSION_COOKIE}

    page.context.add_cookies(planted)
    log_in(page, served.url, "ops.liga", victim)
    expect(page).to_have_url(f"{served.url}/")
    expect(page.locator(".who")).to_contain_text("ops.liga")
    after = {c["name"]: c["value"] for c in page.context.cookies()}
    assert after[SESSION_COOKIE] not in {c["value"] for c in planted}

    attacker.goto(f"{served.url}/failed")
    expect(attacker).to_have_url(re.compile(r"/login\?next="))
    expect(attacker.locator("body")).not_to_contain_text("ops.liga")


def test_an_idle_or_old_session_sends_back_to_the_login(console, page, screenshot):
    """The console's clock is the store's: a session last seen longer ago than
    HUB_CONSOLE_SESSION_MINUTES, or opened more than 12 hours ago, is over at the next request."""
    served = console(console_session_minutes=30)
    password = served.add_operator("ops.juris")
    sessions = console_sessions.c
    for expired in (
        {"last_seen_at": utcnow() - dt.timedelta(minutes=31)},
        {"created_at": utcnow() - dt.timedelta(hours=12, minutes=1)},
    ):
        log_in(page, served.url, "ops.juris", password)
        page.goto(f"{served.url}/audit")
        expect(page.locator(".who")).to_contain_text("ops.juris")
        with served.hub.db.engine.begin() as conn:
            assert (
                conn.execute(
                    update(console_sessions).where(sessions.operator == "ops.juris").values(**expired)
                ).rowcount
                == 1
            )
        page.reload()
        expect(page).to_have_url(f"{served.url}/login?next=%2Faudit&ended")
        expect(page.get_by_role("status")).to_contain_text("Your session has ended")
        with served.hub.db.engine.connect() as conn:
            assert conn.execute(select(sessions.id_hash).where(sessions.operator == "ops.juris")).all() == []
    screenshot("expired")
    log_in(page, served.url, "ops.juris", password)
    page.goto(f"{served.url}/audit")
    expect(page.locator(".who")).to_contain_text("ops.juris")
