"""Tools and endpoints the monitoring tests need: promtool and prometheus (Debian's `prometheus`
package, installed by .ci/run) and RabbitMQ's rabbitmq_prometheus plugin (enabled by .ci/run)."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest

RABBITMQ_METRICS_URL = os.environ.get("HUB_TEST_RABBITMQ_METRICS_URL", "http://127.0.0.1:15692")


def missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: .ci/run provides it)")
    pytest.skip(what)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (Debian's prometheus package)")
    return path  # type: ignore[return-value]


@pytest.fixture(scope="session")
def rabbitmq_metrics_url(amqp_url: str) -> str:
    try:
        httpx.get(f"{RABBITMQ_METRICS_URL}/metrics", timeout=5).raise_for_status()
    except httpx.HTTPError:
        missing(f"RabbitMQ's prometheus plugin does not answer at {RABBITMQ_METRICS_URL}")
    return RABBITMQ_METRICS_URL
