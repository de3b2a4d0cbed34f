"""The admin listener: the console and its JSON API on a port of their own, in processes that run the
gateway, never on the partners' SOAP port; off unless HUB_ADMIN_PORT is set."""

from __future__ import annotations

import httpx


def test_the_console_is_on_the_admin_port_never_on_the_partners_port(start_hub):
    hub = start_hub(admin_port=0)
    assert hub.console_url and hub.console_url != hub.gateway_url
    assert httpx.get(f"{hub.console_url}/login").status_code == 200
    assert httpx.get(f"{hub.gateway_url}/login").status_code == 404


def test_no_console_without_an_admin_port(start_hub):
    assert start_hub().console_url is None


def test_no_console_in_a_worker_process(start_hub):
    assert start_hub(admin_port=0, gateway=False).console_url is None
