"""A `hub` command that fails for an operator's mistake or for something it needs not answering says so
in one line on stderr, with the exit code hub.exits gives it, never a traceback; the commands that open
the hub's store and keys make neither where they are missing. Each runs as an operator runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.exits import BROKEN_PIPE, FAULT, NO, UNAVAILABLE, USAGE, Invocation, run
from hub.runtime import build
from hub.settings import PROJECT_ROOT, Settings, environment, without_hub_variables
from tests.helpers import NOW, envelope, failure, hub_cli, own_store

NOBODY = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1
FAST = 15.0  # a command that cannot reach the broker says so within seconds, not a starting process's half minute

STORE_COMMANDS = [
    ("status", "e9ff96b9-35ff-4df7-a8c0-42394d4088a0"),
    ("trace", "797601e3-55f0-8d1e-87ec-0a790315401d"),
    ("failed", "list"),
    ("failed", "show", "1"),
    ("failed", "discard", "1", "--reason", "entered twice"),
    ("audit", "list"),
    ("audit", "verify"),
    ("store", "purge"),
    ("store", "rotate-key"),
]


def said(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """The command ended with `code` and one or two lines on stderr naming the problem, no traceback."""
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and 1 <= len(done.stderr.strip().splitlines()) <= 2, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def hub_store(tmp_path: Path) -> Iterator[Settings]:
    """A hub's store with every table the operators' commands read, its keys, and one failed message (1)."""
    settings = Settings(**own_store(tmp_path / "hub"), broker_url=NOBODY)
    parts = build(settings)
    parts.operators(None)
    parts.failed.put([failure(envelope(), "no provider S77777 in the register")], NOW)
    parts.close()
    yield settings


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_where_there_is_no_store_a_command_says_so_and_makes_none(tmp_path, command):
    done = hub_cli(*command, cwd=tmp_path)
    said(done, USAGE, f"no store at {tmp_path / 'var' / 'hub.sqlite3'}", "HUB_STORE_URL")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_key_is_named_and_not_made(hub_store):
    key = hub_store.pseudonym_key_file
    key.unlink()
    done = hub_cli("failed", "list", env=environment(hub_store), cwd=key.parent)
    said(done, USAGE, f"no key at {key}", "HUB_PSEUDONYM_KEY")
    assert not key.exists()


def test_a_store_that_does_not_answer(tmp_path):
    env = {
        "HUB_STORE_URL": "postgresql://hub@127.0.0.1:1/hub",
        "HUB_STORE_KEYS": "aUqZ0X3KQnpo0kbsX7y5TtSxXGmhnixLIbfp0wJeA4Q=",
        "HUB_PSEUDONYM_KEY": "a-pseudonym-key-of-this-test-0123456789",
    }
    said(hub_cli("status", "x", env=env, cwd=tmp_path), UNAVAILABLE, "store does not answer", "HUB_STORE_URL")


def test_replay_without_the_broker_fails_in_seconds(hub_store):
    started = time.monotonic()
    done = hub_cli("failed", "replay", "1", env=environment(hub_store), timeout=60)
    said(done, UNAVAILABLE, "broker does not answer", "HUB_BROKER_URL", "127.0.0.1:1")
    assert time.monotonic() - started < FAST


def test_edit_lets_the_operator_edit_before_it_needs_the_broker(hub_store, tmp_path):
    edited = tmp_path / "edited"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\ntouch "{edited}"\n', encoding="utf-8")
    editor.chmod(0o755)
    env = {**environment(hub_store), "EDITOR": str(editor)}
    started = time.monotonic()
    done = hub_cli("failed", "edit", "1", "--reason", "provider registered", env=env, timeout=60)
    said(done, UNAVAILABLE, "saved, not replayed", "hub failed replay 1", "HUB_BROKER_URL")
    assert edited.exists() and time.monotonic() - started < FAST
    assert [e.action for e in build(hub_store, create=False).audit.entries(10)][0] == "edit"


def test_an_editor_that_fails_saves_nothing(hub_store):
    done = hub_cli("failed", "edit", "1", "--reason", "look", env={**environment(hub_store), "EDITOR": "false"})
    said(done, USAGE, "not saved: the editor 'false' ended with status 1")
    assert "edit" not in [e.action for e in build(hub_store, create=False).audit.entries(10)]


def test_the_demo_without_the_broker_fails_in_seconds(tmp_path):
    started = time.monotonic()
    done = hub_cli("demo", "--records", "3", env={"HUB_BROKER_URL": NOBODY}, cwd=tmp_path, timeout=60)
    said(done, UNAVAILABLE, "broker does not answer", "HUB_BROKER_URL")
    assert time.monotonic() - started < FAST


def test_serve_on_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **environment(Settings(**own_store(tmp_path), signatures="off")),
            "HUB_HTTP_PORT": str(port),
            "HUB_LOG_LEVEL": "ERROR",
        }
        done = hub_cli("serve", env=env, timeout=60)
    said(done, UNAVAILABLE, f"cannot listen on 127.0.0.1:{port}", "HUB_HTTP_PORT")


def test_serve_with_the_console_on_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **environment(Settings(**own_store(tmp_path), signatures="off", http_port=0)),
            "HUB_ADMIN_PORT": str(port),
            "HUB_LOG_LEVEL": "ERROR",
        }
        done = hub_cli("serve", env=env, timeout=60)
    said(done, UNAVAILABLE, f"cannot listen on 127.0.0.1:{port}", "HUB_ADMIN_PORT")


def test_contract_check_of_a_missing_file(tmp_path):
    missing = tmp_path / "request.xml"
    said(hub_cli("contract", "check", "sopa", str(missing), cwd=tmp_path), USAGE, f"cannot read {missing}")
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_setting_is_named(tmp_path):
    done = hub_cli("status", "x", env={"HUB_HTTP_PORT": "eighty"}, cwd=tmp_path)
    said(done, USAGE, "HUB_HTTP_PORT=eighty")


def test_what_is_not_found_is_a_no(hub_store):
    said(hub_cli("failed", "show", "7", env=environment(hub_store)), NO, "hub failed show: no failed message 7")


@pytest.mark.parametrize("command", [("contract", "sample", "sopa", "benefits"), ("failed", "list", "--json")])
def test_output_to_a_reader_that_went_away(hub_store, command):
    """As `hub ... | head` when head has read its lines: the exit code of a Unix tool killed by SIGPIPE."""
    gone, writer = os.pipe()
    os.close(gone)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hub", *command],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=PROJECT_ROOT,
            env={**without_hub_variables(), **environment(hub_store)},
        )
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (BROKEN_PIPE, "")


def test_a_fault_is_one_line_unless_debugging(capsys):
    def broken() -> int:
        raise KeyError("a fault")

    assert run(broken, Invocation("hub failed list")) == FAULT
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and "Traceback" not in line
    assert line.startswith("hub failed list: KeyError: 'a fault'") and "`hub --debug failed list ...`" in line
    assert run(broken, Invocation("hub failed list", debug=True)) == FAULT
    assert "Traceback" in capsys.readouterr().err
