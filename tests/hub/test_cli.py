"""The README's main job and the operator commands, run as a user runs them."""

from __future__ import annotations

import re

import pytest

from hub.runtime import build
from hub.settings import Settings, environment
from tests.helpers import hub_cli, own_store

SUMMARY = re.compile(r"^summary: sent=(\d+) delivered=(\d+) failed=(\d+) elapsed=[\d.]+s$", re.M)


def test_demo_on_the_embedded_broker():
    done = hub_cli("demo", "--records", "300", env={"HUB_BROKER_URL": "memory://"})
    assert done.returncode == 0, done.stderr
    assert SUMMARY.search(done.stdout).groups() == ("300", "300", "0")
    assert "spolis store: records=300 duplicates=0" in done.stderr


@pytest.mark.rabbitmq
def test_demo_through_rabbitmq(amqp_url, broker_prefix):
    done = hub_cli("demo", "--records", "600", env={"HUB_BROKER_URL": amqp_url, "HUB_BROKER_PREFIX": broker_prefix})
    assert done.returncode == 0, done.stderr
    assert SUMMARY.search(done.stdout).groups() == ("600", "600", "0")


def test_help_lists_every_simulator():
    done = hub_cli("simulate", "--help")
    for system in ("sopa", "lietis", "gvs", "spolis"):
        assert system in done.stdout


def test_status_of_an_unknown_receipt(tmp_path):
    settings = Settings(**own_store(tmp_path))
    assert build(settings).store.counts() == {}  # the hub's store, as the hub made it
    done = hub_cli("status", "00000000-0000-0000-0000-000000000000", env=environment(settings))
    assert done.returncode == 1 and "no receipt" in done.stderr


def test_serve_names_every_node_of_the_broker_and_no_password():
    from hub.cli import _without_credentials

    url = "amqp://hub:s3cret@rabbit-1:5672/%2F;amqp://hub:s3cret@rabbit-2:5672/%2F"
    assert _without_credentials(url) == "amqp://rabbit-1:5672/%2F;amqp://rabbit-2:5672/%2F"
