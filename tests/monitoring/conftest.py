"""RabbitMQ's rabbitmq_prometheus plugin, which the monitoring tests scrape (enabled by .ci/run); the
commands they run, promtool and prometheus (Debian's `prometheus` package, installed by .ci/run), are
found by tests.helpers.required_tool."""

from __future__ import annotations

import os

import httpx
import pytest

RABBITMQ_METRICS_URL = os.environ.get("HUB_TEST_RABBITMQ_METRICS_URL", "http://127.0.0.1:15692")


@pytest.fixture(scope="session")
def rabbitmq_metrics_url(amqp_url: str) -> str:
    try:
        httpx.get(f"{RABBITMQ_METRICS_URL}/metrics", timeout=5).raise_for_status()
    except httpx.HTTPError:
        what = f"RabbitMQ's prometheus plugin does not answer at {RABBITMQ_METRICS_URL}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} (CI=true: .ci/run provides it)")
        pytest.skip(what)
    return RABBITMQ_METRICS_URL
