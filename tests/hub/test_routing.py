"""Routes come from configuration and are checked at start: each names its flow, its target and a
retry policy that exists."""

from __future__ import annotations

import pytest

from hub.rules.routing import Router, RoutingConfigError
from hub.settings import PROJECT_ROOT
from hub.systems import discover

SYSTEMS = discover()


def load(tmp_path, text: str) -> Router:
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    return Router.load(path, SYSTEMS)


def test_the_production_routes_name_every_flow_of_the_brief():
    router = Router.load(PROJECT_ROOT / "config" / "routes.toml", SYSTEMS)
    assert {route.flow for route in router.routes.values()} == {f"F{n}" for n in range(1, 9)}
    assert router.route("social_assistance.monthly_report.v1").flow == "F8"
    assert router.route("vsaa.ep51.v1").flow == "F5"


@pytest.mark.parametrize("flow", [None, "", "F 1", "x" * 33, 7])
def test_a_route_without_a_usable_flow_name_is_refused(tmp_path, flow):
    line = "" if flow is None else f"flow = {flow!r}\n" if isinstance(flow, str) else f"flow = {flow}\n"
    with pytest.raises(RoutingConfigError, match="route 1: give the route's flow"):
        load(
            tmp_path,
            f'[[routes]]\n{line}types = ["social_assistance.benefit.v1"]\ntarget = "spolis"\n',
        )


def test_a_route_to_an_unknown_policy_is_refused(tmp_path):
    with pytest.raises(RoutingConfigError, match="no retry policy 'fast'"):
        load(
            tmp_path,
            '[[routes]]\nflow = "F1"\ntypes = ["social_assistance.benefit.v1"]\n'
            'target = "spolis"\nretry_policy = "fast"\n',
        )
