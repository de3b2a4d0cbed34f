"""What the console's browser tests run on: Debian's chromium (installed by .ci/run; a missing one fails
under CI=true and skips elsewhere, tests.helpers.required_tool), driven by Playwright and never one
Playwright downloads, launched once per module; a fresh browser context per test (no cookie crosses
from one test to the next); and a hub serving the console on its admin listener."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers import required_tool, wait_for
from tests.helpers.console import Console, Screenshots, answers

PAGE_TIMEOUT_MS = 10_000  # a page or a text on it that does not come in this long has failed


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium, one per module: starting it is the slow part, a context per test is cheap."""
    executable = required_tool("chromium", "chromium")
    expect.set_options(timeout=PAGE_TIMEOUT_MS)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser) -> Iterator[Callable[[], Any]]:
    """Browser contexts of the test's own (a second person, another tab's cookies), closed after."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context) -> Any:
    """A tab in a context of the test's own."""
    return new_context().new_page()


@pytest.fixture
def screenshot(request, page) -> Callable[..., Any]:
    """`screenshot("step")` saves `page` (or the page given) as var/console/<test>-<step>.png."""
    shots = Screenshots(request.node.name)
    return lambda step, on=None: shots(on or page, step)


@pytest.fixture
def console(start_hub) -> Callable[..., Console]:
    """`console(broker_url, **settings)` starts a hub (gateway and workers, as `hub serve --role all`)
    whose admin listener serves the console on a port of its own, not the partners' port."""

    def start(broker_url: str = "memory://", **overrides: Any) -> Console:
        hub = start_hub(broker_url, admin_port=0, **overrides)
        wait_for(lambda: answers(hub.console_url), timeout=30)
        return Console(hub, hub.console_url)

    return start
