"""Partners' own WS-Security stacks against a running hub with signatures required (what they send and
check: tests.helpers.interop): the development PKI with an EC key beside SOPA's RSA one, and the hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.devpki import issue
from hub.runtime import Hub
from tests.helpers import Simulated, signed
from tests.helpers.interop import RunningHub


@pytest.fixture(scope="session")
def interop_pki(dev_pki: Path, tmp_path_factory) -> Path:
    """The development PKI, plus an EC key of SOPA's pinned beside its RSA one (`sopa.ec.pem`)."""
    folder = tmp_path_factory.mktemp("interop-pki")
    for path in dev_pki.iterdir():
        shutil.copy(path, folder / path.name)
    key, cert = issue("sopa", kind="ec")
    (folder / "sopa-ec.key").write_bytes(key)
    (folder / "sopa.ec.pem").write_bytes(cert)
    return folder


@pytest.fixture
def hub(start_hub, spolis: Simulated, vsaa: Simulated, interop_pki: Path) -> RunningHub:
    running: Hub = start_hub(**signed(interop_pki))
    return RunningHub(running.gateway_url, interop_pki)
