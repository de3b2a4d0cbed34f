"""Every invalid sample, sent to a running gateway over HTTP, gets a Fault naming its field and rule, is
counted, and leaves nothing behind. A module of its own: its hub lives as long as the module, and a
process holds one hub at a time (their metrics share the process's registry)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from hub.contracts.samples import invalid_samples
from hub.runtime import Hub
from hub.soap import parse_fault
from tests.helpers import Simulated, body_of, hub_settings, metric, post, simulated_spolis


@pytest.fixture(scope="module")
def refusing(tmp_path_factory) -> Iterator[tuple[Hub, Simulated]]:
    """One hub for every invalid sample (a hub each cost most of their time): each test checks that its
    sample left nothing behind, so none meets a trace of another."""
    folder = tmp_path_factory.mktemp("refusing")
    spolis = simulated_spolis(folder)
    hub = Hub(hub_settings(folder, {"spolis": spolis.endpoint}, f"hubtest-{uuid.uuid4().hex[:8]}")).start()
    hub.wait_until_consuming()
    yield hub, spolis
    hub.stop()
    spolis.stop()
    spolis.store.close()


@pytest.mark.parametrize("invalid", invalid_samples(), ids=lambda s: s.id)
def test_invalid_input_gets_a_fault_naming_field_and_rule(refusing, invalid):
    hub, spolis = refusing
    labels = {"system": invalid.system, "rule": invalid.rule}
    before = metric(hub, "hub_validation_failures_total", labels)
    response = post(hub, invalid.system, invalid.path.read_bytes())
    assert response.status_code == 500
    fault = parse_fault(body_of(response))
    assert fault.code in ("Client", "VersionMismatch")
    if invalid.layer == "route":
        assert fault.error_class == "unroutable" and invalid.field in fault.string
    else:
        assert (invalid.field, invalid.rule) in {(e.field, e.rule) for e in fault.errors}
        assert metric(hub, "hub_validation_failures_total", labels) == before + 1
    assert hub.store.counts() == {}, "refused: nothing kept, so nothing was published"
    assert spolis.store.stats()["records"] == 0
