"""Operators' accounts: passwords kept as salted scrypt hashes, sessions and API tokens as hashes,
login failures throttled; and `hub operators …` as an administrator runs it."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from hub.cli import main
from hub.runtime import build
from hub.settings import GivenSettings, environment, get_settings
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.operators import (
    AccountError,
    OperatorStore,
    api_tokens,
    console_sessions,
    hash_password,
    login_failures,
    operators,
    password_matches,
)
from tests.helpers import own_store

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> OperatorStore:
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", Sealer([Fernet.generate_key()]))
    return OperatorStore(db, clock)


def test_a_password_is_kept_as_a_salted_hash_and_checked(accounts):
    accounts.add("anna", "operator", PASSWORD)
    with accounts.engine.connect() as conn:
        stored = conn.execute(select(operators.c.password_hash)).scalar_one()
    assert PASSWORD not in stored and stored.startswith("scrypt$16384$8$1$")
    assert hash_password(PASSWORD) != hash_password(PASSWORD)
    assert password_matches(PASSWORD, stored) and not password_matches(PASSWORD + "!", stored)
    assert accounts.authenticate("anna", PASSWORD, "10.0.0.1").role == "operator"
    assert accounts.authenticate("anna", "wrong password!", "10.0.0.1") is None
    assert accounts.authenticate("nobody", PASSWORD, "10.0.0.1") is None


def test_short_passwords_unknown_roles_odd_names_and_twins_are_refused(accounts):
    for name, role, password in (
        ("anna", "operator", "short"),
        ("anna", "admin", PASSWORD),
        ("anna<script>", "viewer", PASSWORD),
    ):
        with pytest.raises(AccountError):
            accounts.add(name, role, password)
    accounts.add("anna", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="already"):
        accounts.add("anna", "operator", PASSWORD)


def test_five_failures_for_a_name_or_an_address_stop_every_attempt_for_fifteen_minutes(accounts, clock):
    accounts.add("anna", "operator", PASSWORD)
    for _ in range(5):
        assert accounts.authenticate("anna", "wrong password!", "10.0.0.1") is None
    assert accounts.authenticate("anna", PASSWORD, "10.0.0.2") is None  # the right password, refused
    clock.now += dt.timedelta(minutes=15, seconds=1)
    assert accounts.authenticate("anna", PASSWORD, "10.0.0.2") is not None
    accounts.add("bert", "viewer", PASSWORD)
    for name in ("x1", "x2", "x3", "x4", "x5"):  # one address guessing many names
        accounts.authenticate(name, "wrong password!", "10.0.0.9")
    assert accounts.authenticate("bert", PASSWORD, "10.0.0.9") is None
    assert accounts.authenticate("bert", PASSWORD, "10.0.0.8") is not None


def test_a_session_ends_when_idle_after_twelve_hours_or_at_logout_and_only_its_hash_is_kept(accounts, clock):
    accounts.add("anna", "operator", PASSWORD)
    idle = dt.timedelta(minutes=30)
    session = accounts.open_session("anna")
    with accounts.engine.connect() as conn:
        assert session not in conn.execute(select(console_sessions.c.id_hash)).scalar_one()
    for _ in range(24):  # busy all day: never idle, but not longer than 12 h
        clock.now += dt.timedelta(minutes=29)
        assert accounts.session(session, idle) is not None
    clock.now += dt.timedelta(minutes=29)
    assert accounts.session(session, idle) is None
    other = accounts.open_session("anna")
    clock.now += dt.timedelta(minutes=31)
    assert accounts.session(other, idle) is None
    third = accounts.open_session("anna")
    accounts.close_session(third)
    assert accounts.session(third, idle) is None


def test_an_api_token_names_its_operator_and_dies_with_the_account(accounts):
    accounts.add("anna", "viewer", PASSWORD)
    token = accounts.new_token("anna")
    with accounts.engine.connect() as conn:
        assert token not in conn.execute(select(api_tokens.c.token_hash)).scalar_one()
    assert accounts.token_account(token).name == "anna"
    assert accounts.token_account(token + "x") is None
    assert accounts.remove("anna")
    assert accounts.token_account(token) is None
    with pytest.raises(AccountError):
        accounts.new_token("anna")


@pytest.fixture
def operators_cli(tmp_path, monkeypatch, capsys):
    """`hub operators …` in this process (each is a second in a new one), on a store a hub made, with
    the HUB_ variables it would have: (exit code, stdout, stderr)."""
    settings = GivenSettings(**own_store(tmp_path))
    build(settings).audit.verify()  # the store and its keys made, as a hub that ran leaves them
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    for name, value in {**environment(settings), "HUB_OPERATOR": "root.admin"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["operators", *args])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_settings.cache_clear()


def test_the_operators_commands_add_list_token_and_remove_and_are_audited(tmp_path, operators_cli):
    added = operators_cli("add", "anna", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert added[0] == 0, added
    code, _, err = operators_cli("add", "bert", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert (code, err.count("\n")) == (2, 1) and "12 characters" in err
    code, _, err = operators_cli("add", "bert", "--role", "viewer")
    assert code == 2 and "--password-stdin" in err
    code, out, _ = operators_cli("list")
    assert code == 0 and "anna" in out and "operator" in out
    code, token, _ = operators_cli("token", "anna")
    assert code == 0 and token.strip().startswith("hub_")
    parts = build(get_settings(), create=False)
    assert OperatorStore(parts.db).token_account(token.strip()).name == "anna"
    assert operators_cli("remove", "anna")[0] == 0
    code, _, err = operators_cli("remove", "anna")
    assert code == 1 and "no operator anna" in err

    trail = [(e.operator, e.action, e.subject) for e in reversed(parts.audit.entries())]
    assert trail == [
        ("root.admin", "operator-add", "anna"),
        ("root.admin", "token-add", "anna"),
        ("root.admin", "operator-remove", "anna"),
    ]
    with parts.db.engine.connect() as conn:
        assert PASSWORD not in str(conn.execute(select(operators)).all())
    assert parts.audit.verify().whole


def test_ended_sessions_and_old_failures_are_dropped_so_the_tables_do_not_grow(accounts, clock):
    accounts.add("anna", "operator", PASSWORD)
    accounts.open_session("anna")
    accounts.authenticate("anna", "wrong password!", "10.0.0.1")
    clock.now += dt.timedelta(minutes=31)
    live = accounts.open_session("anna")
    accounts.tidy(dt.timedelta(minutes=30))
    with accounts.engine.connect() as conn:
        assert conn.execute(select(console_sessions.c.operator)).all() == [("anna",)]
        assert conn.execute(select(login_failures)).all() == []
    assert accounts.session(live, dt.timedelta(minutes=30)) is not None
