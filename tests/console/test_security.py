"""The console's guards over HTTP, on the real app and a real SQLite store: logins, their throttling
and audit, sessions (fixation, idle and absolute expiry, logout), CSRF, roles, headers, and passwords
never kept or logged in clear. Each test fails when its guard is taken away."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hub.console.app import LOGIN_REFUSED, SESSION_COOKIE, console_app
from hub.operations.admin import AdminApi
from hub.runtime import Components, build
from hub.settings import GivenSettings
from hub.store.operators import OperatorStore
from tests.helpers import envelope, failure, own_store

PASSWORD = "correct horse battery staple"
ADDRESS = "testclient"  # Starlette's TestClient's address


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Site:
    parts: Components
    clock: Clock
    app: object
    accounts: OperatorStore

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)  # type: ignore[arg-type]

    def login(self, name: str, password: str = PASSWORD, client: TestClient | None = None, **form: str):  # type: ignore[no-untyped-def]
        client = client or self.client()
        response = client.post("/login", data={"name": name, "password": password, "csrf": csrf(client), **form})
        return client, response

    def audit(self) -> list[tuple[str, str, str]]:
        return [(e.operator, e.action, e.subject) for e in reversed(self.parts.audit.entries(1000))]


def session_of(response) -> str | None:  # type: ignore[no-untyped-def]
    """The session id a response sets, from its Set-Cookie header."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{SESSION_COOKIE}="):
            return header.split(";")[0].split("=", 1)[1].strip('"') or None
    return None


def csrf(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    parts = build(GivenSettings(**own_store(tmp_path)))
    clock = Clock()
    accounts = OperatorStore(parts.db, clock)
    accounts.add("anna", "operator", PASSWORD)
    accounts.add("vera", "viewer", PASSWORD)
    service = parts.operators(None)
    app = console_app(parts, service, clock=clock, api_routes=AdminApi(service).routes())
    yield Site(parts, clock, app, accounts)
    parts.close()


def test_a_right_password_opens_a_session_and_a_wrong_one_is_told_apart_from_nothing(site):
    client, answer = site.login("anna", next="/failed")
    assert (answer.status_code, answer.headers["location"]) == (303, "/failed")
    assert client.get("/failed").status_code == 200
    assert "anna" in client.get("/failed").text

    for name, password in (("anna", "wrong password!"), ("nobody", PASSWORD)):
        other, refused = site.login(name, password)
        assert refused.status_code == 401 and LOGIN_REFUSED in refused.text
        assert SESSION_COOKIE not in other.cookies
        assert other.get("/").status_code == 303


def test_after_login_only_a_local_path_is_followed(site):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        _, answer = site.login("anna", next=target)
        assert answer.headers["location"] == "/", target


def test_five_failed_logins_refuse_even_the_right_password_for_fifteen_minutes(site):
    for _ in range(5):
        assert site.login("anna", "wrong password!")[1].status_code == 401
    client, refused = site.login("anna")
    assert refused.status_code == 401 and LOGIN_REFUSED in refused.text
    site.clock.advance(minutes=15, seconds=1)
    assert site.login("anna")[1].status_code == 303


def test_logins_are_audited_with_name_and_address_never_the_password(site):
    site.login("anna", "wrong password!")
    site.login("anna")
    entries = site.parts.audit.entries(10)
    assert [(e.operator, e.action) for e in reversed(entries)] == [("anna", "login-failed"), ("anna", "login")]
    assert all(e.details == {"address": ADDRESS} for e in entries)
    assert not any("wrong password!" in str(e) or PASSWORD in str(e) for e in entries)


def test_no_password_is_kept_or_logged_in_clear(site, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    site.login("anna", "a guess worth logging")
    client, _ = site.login("anna")
    client.get("/failed")
    assert PASSWORD not in caplog.text and "a guess worth logging" not in caplog.text
    site.parts.db.engine.dispose()
    for path in tmp_path.glob("hub.sqlite3*"):
        data = path.read_bytes()
        assert PASSWORD.encode() not in data and b"a guess worth logging" not in data, path


def test_a_session_cookie_from_before_the_login_is_never_the_session_after_it(site):
    chosen = "chosen-by-an-attacker-" + "x" * 30
    victim = site.client()
    victim.cookies.set(SESSION_COOKIE, chosen, domain="testserver.local")
    _, answer = site.login("anna", client=victim)
    session = session_of(answer)
    assert answer.status_code == 303 and session and session != chosen
    assert site.client().get("/", cookies={SESSION_COOKIE: chosen}).status_code == 303
    assert site.client().get("/", cookies={SESSION_COOKIE: session}).status_code == 200

    # a real session of the attacker's own, planted in the victim's browser, ends at the victim's login
    _, answer = site.login("vera")
    theirs = session_of(answer)
    victim = site.client()
    victim.cookies.set(SESSION_COOKIE, theirs, domain="testserver.local")
    _, answer = site.login("anna", client=victim)
    assert session_of(answer) not in (None, theirs)
    assert site.client().get("/", cookies={SESSION_COOKIE: theirs}).status_code == 303


def test_a_post_without_the_sessions_csrf_token_is_refused_before_it_acts(site):
    client, _ = site.login("anna")
    other, _ = site.login("vera")
    for form in ({}, {"csrf": "0" * 64}, {"csrf": csrf(other, "/failed")}):
        assert client.post("/logout", data=form).status_code == 403
        assert client.get("/failed").status_code == 200  # still logged in: the logout never ran
    assert client.post("/logout", data={"csrf": csrf(client, "/failed")}).status_code == 303
    assert site.client().post("/login", data={"name": "anna", "password": PASSWORD}).status_code == 403


def test_a_session_ends_when_idle_and_twelve_hours_after_its_login(site):
    client, _ = site.login("anna")
    site.clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    site.clock.advance(minutes=31)
    assert client.get("/").headers["location"] == "/login?next=%2F&ended"
    assert "Your session has ended" in client.get("/login?next=%2F&ended").text

    client, _ = site.login("anna")
    for _ in range(24):
        site.clock.advance(minutes=29)
        assert client.get("/failed").status_code == 200
    site.clock.advance(minutes=29)
    assert client.get("/failed").status_code == 303


def test_logout_ends_the_session_on_the_server_not_only_the_cookie(site):
    client, _ = site.login("anna")
    session = client.cookies.get(SESSION_COOKIE)
    assert client.post("/logout", data={"csrf": csrf(client, "/failed")}).status_code == 303
    assert site.client().get("/failed", cookies={SESSION_COOKIE: session}).status_code == 303
    assert site.audit()[-1] == ("anna", "logout", "console")


def test_a_viewer_sees_the_pages_but_may_change_nothing(site):
    (entry,) = site.parts.failed.put([failure(envelope(), "SPOLIS said no")], site.clock())
    viewer, _ = site.login("vera")
    assert viewer.get(f"/failed/{entry}").status_code == 200
    token = csrf(viewer, "/failed")
    refused = viewer.post(f"/failed/{entry}/discard", data={"csrf": token, "reason": "not needed"})
    assert refused.status_code == 403 and "your role (viewer) may not do this" in refused.text
    assert site.parts.failed.get([entry])[0].state == "failed"
    operator, _ = site.login("anna")
    done = operator.post(f"/failed/{entry}/discard", data={"csrf": csrf(operator, "/failed"), "reason": "not needed"})
    assert done.status_code in (200, 303) and site.parts.failed.get([entry])[0].state == "discarded"


def test_every_page_forbids_framing_scripts_from_elsewhere_and_caching(site):
    client, _ = site.login("anna")
    for path in ("/login", "/", "/failed", "/audit"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY", path
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["cache-control"] == "no-store", path
    _, answer = site.login("anna")
    (session,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert "HttpOnly" in session and "SameSite=Strict" in session


def test_what_a_message_holds_is_shown_as_text_never_as_markup(site):
    script = "<script>alert(1)</script>"
    site.parts.failed.put([failure(envelope(), f"SPOLIS said {script}")], site.clock())
    client, _ = site.login("anna")
    listing = client.get("/failed")
    assert script not in listing.text and "&lt;script&gt;" in listing.text


def test_the_api_knows_the_operator_by_their_token_alone_and_a_viewers_token_only_reads(site):
    (entry,) = site.parts.failed.put([failure(envelope(), "SPOLIS said no")], site.clock())
    api = site.client()
    anna = {"Authorization": f"Bearer {site.accounts.new_token('anna')}", "X-Operator": "someone.else"}
    vera = {"Authorization": f"Bearer {site.accounts.new_token('vera')}"}
    assert api.get("/api/failed").status_code == 401
    assert api.get("/api/failed", headers={"Authorization": "Bearer hub_guessed"}).status_code == 401
    logged_in, _ = site.login("anna")
    assert logged_in.get("/api/failed").status_code == 401, "a session cookie is no API credential"
    assert api.get("/api/failed", headers=vera).json()[0]["count"] == 1
    discard = {"ids": [entry], "reason": "sent twice"}
    refused = api.post("/api/failed/discard", json=discard, headers=vera)
    assert refused.status_code == 403 and site.parts.failed.get([entry])[0].state == "failed"
    assert api.post("/api/failed/discard", json=discard, headers=anna).json() == {"discarded": [entry]}
    assert site.audit()[-1] == ("anna", "discard", str(entry))
    site.accounts.remove("anna")
    assert api.get("/api/failed", headers=anna).status_code == 401
