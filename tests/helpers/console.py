"""The operators' console as the browser tests drive it: a hub serving it on its admin listener, the
operators an administrator adds with `hub operators add`, a load SPOLIS refuses part of, logging in
through the login form, and screenshots of every page under var/console/ (outside what git tracks,
as the dashboard's drawings in var/dashboard/)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hub.settings import PROJECT_ROOT
from hub.store.operators import OperatorStore
from tests.helpers import factory, same_hub_environment, submit, wait_for

ARTEFACTS = PROJECT_ROOT / "var" / "console"
PASSWORD = "correct horse battery staple"  # long enough for the console's minimum
UNKNOWN_PROVIDER = "S77777"  # a provider register number SPOLIS refuses until told of it


@dataclass
class Console:
    """A started hub (tests.conftest's start_hub) and the base URL of the console it serves."""

    hub: Any
    url: str

    def add_operator(
        self, name: str, role: str = "operator", password: str = PASSWORD, *, command: bool = False
    ) -> str:
        """An account; the password. `command`: through `hub operators add`, as an administrator adds
        one, the password on stdin (a process of its own, a couple of seconds); otherwise straight into
        the store the command writes to, for the tests about something else."""
        if not command:
            OperatorStore(self.hub.db).add(name, role, password)
            return password
        done = subprocess.run(
            [sys.executable, "-m", "hub", "operators", "add", name, "--role", role, "--password-stdin"],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=PROJECT_ROOT,
            env=same_hub_environment(self.hub),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return password


def answers(url: str) -> bool:
    """Whether the console's login page answers yet."""
    try:
        return httpx.get(f"{url}/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def refused_load(hub: Any, count: int) -> tuple[dict[str, str], set[str]]:
    """SOPA sends SPOLIS a load where `count` services name a provider SPOLIS does not know, between two
    records it takes; message id by record id, and the refused ones', once every record has settled."""
    f = factory(11)
    unknown = [f.social_service().model_copy(update={"provider_register_no": UNKNOWN_PROVIDER}) for _ in range(count)]
    ids = submit(hub, [f.benefit(), *unknown, f.household_status()])
    wait_for(lambda: hub.store.counts().get("failed") == count and hub.store.counts().get("delivered") == 2)
    return ids, {ids[r.record_id] for r in unknown}


def log_in(page: Any, url: str, name: str, password: str) -> None:
    """Through the login form, as a person does; back once the answer (the next page, or the form again
    saying why not) has come."""
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form[action*=login] [type=submit]").click()


class Screenshots:
    """`shot(step)` saves the page as var/console/<test>-<step>.png, the whole page, to be looked at."""

    def __init__(self, test: str) -> None:
        self.test = re.sub(r"[^A-Za-z0-9_.-]+", "-", test).strip("-")
        ARTEFACTS.mkdir(parents=True, exist_ok=True)

    def path(self, step: str) -> Path:
        return ARTEFACTS / f"{self.test}-{step}.png"

    def __call__(self, page: Any, step: str) -> Path:
        path = self.path(step)
        page.screenshot(path=str(path), full_page=True)
        return path
