"""Shared fixtures: a real RabbitMQ (required under CI=true), the SPOLIS simulator over HTTP, a hub.
What test modules share besides fixtures is in tests/helpers."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from cryptography.fernet import Fernet
from kombu import Connection

from adapters.burvis.simulator import BurvisService
from adapters.vdeavk.simulator import VdeavkService
from adapters.vsaa.simulator import VsaaService
from hub import devpki
from hub.runtime import Hub, build
from hub.settings import Settings
from hub.simulation.rabbit_nodes import RabbitNode, delete_broker_objects
from hub.simulation.record_store import RecordStore
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.systems import discover
from tests.helpers import AMQP_URL, TODAY, Simulated, hub_settings, missing, postgresql_store, simulated_spolis
from tests.helpers.brokers import BrokerWatch, started

OWN_BROKERS = {"amqp_url", "own_rabbit"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that needs RabbitMQ is marked `rabbitmq`, whether a test, a fixture or a fixture of a
    fixture asks for `amqp_url` (the machine's broker) or a node of its own (`own_rabbit`), or
    `broker_url` is its RabbitMQ case: `-m 'not rabbitmq'` runs without a broker and starts no node,
    `-m rabbitmq` runs all that need one. Before `-m` deselects (tryfirst). A test that starts nodes of
    its own or a browser is in a module of TURNS, or the run stops here."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_rabbitmq = callspec is not None and callspec.params.get("broker_url") == "rabbitmq"
        if OWN_BROKERS & fixtures or on_rabbitmq:
            item.add_marker(pytest.mark.rabbitmq)
        if "own_rabbit" in fixtures or item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.rabbit_nodes)
        takes_turns = item.get_closest_marker("rabbit_nodes") or "browser" in fixtures
        if takes_turns and item.path.relative_to(config.rootpath).as_posix() not in TURNS:
            raise pytest.UsageError(f"{item.nodeid} starts RabbitMQ nodes or a browser: list its module in TURNS")


TURNS = {
    "tests/hub/test_rabbit_nodes.py": "rabbit-nodes",
    "tests/integration/test_cluster_faults.py": "rabbit-nodes",
    "tests/integration/test_faults.py": "rabbit-nodes",
    "tests/console/test_browser.py": "chromium",
}
"""Modules whose tests take turns on one worker under `--dist loadgroup`: those starting RabbitMQ nodes of
their own (a module's node or cluster starts once, and two clusters at once starve each other's timing
on two cores), and the browser tests (chromium starts once per module). By module path: xdist's
scheduler sees test ids only."""


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` with TURNS as groups: under pytest 9.2's structured test ids an `xdist_group`
    marker no longer reaches xdist's scheduler."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class TakingTurns(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return TURNS.get(nodeid.split("::", 1)[0]) or super()._split_scope(nodeid)

    return TakingTurns(config, log)


def _broker_answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), timeout=2):
            pass
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    if not _broker_answers(AMQP_URL):
        missing(f"RabbitMQ is not reachable at {AMQP_URL}")
    return AMQP_URL


@pytest.fixture(scope="session", autouse=True)
def machine_broker_untouched(request) -> Iterator[None]:
    """`make test` never stops a broker it did not start: when tests on RabbitMQ run, the machine's
    broker must run at the end as it did at the start (same VM, never stopped), or the session fails."""
    on_rabbitmq = any(item.get_closest_marker("rabbitmq") for item in request.session.items)
    if not on_rabbitmq or not _broker_answers(AMQP_URL):
        yield
        return
    watch = BrokerWatch(AMQP_URL)
    yield
    if broken := watch.broken():
        pytest.fail(f"the machine's RabbitMQ at {AMQP_URL} was disturbed by the tests: {broken}")


@pytest.fixture
def broker_prefix(request) -> Iterator[str]:
    """A fresh name prefix per test, so tests never share queues; on RabbitMQ they are deleted after,
    in whichever virtual host, as are virtual hosts named with it."""
    prefix = f"hubtest-{uuid.uuid4().hex[:8]}"
    yield prefix
    if "amqp_url" in request.fixturenames:
        delete_broker_objects(AMQP_URL, prefix)


@pytest.fixture
def own_rabbit(tmp_path_factory) -> Iterator[RabbitNode]:
    """A RabbitMQ node of the test's own, to stop, kill, pause or restart; removed after, whatever happens."""
    node = started(RabbitNode(tmp_path_factory.mktemp("rabbit")))
    yield node
    node.remove()


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def broker_url(request) -> str:
    """The embedded broker and the real RabbitMQ: the hub must behave the same on both. It asks for
    `amqp_url` only in the RabbitMQ case, out of sight of the fixture closure: that case is marked."""
    return "memory://" if request.param == "memory" else request.getfixturevalue("amqp_url")


@pytest.fixture
def spolis(tmp_path: Path) -> Iterator[Simulated]:
    sim = simulated_spolis(tmp_path)
    yield sim
    sim.stop()
    sim.store.close()


@pytest.fixture
def vsaa() -> Iterator[Simulated]:
    sim = Simulated("vsaa", VsaaService(seed=7, today=TODAY)).start()  # the day the tests expect, across midnight
    yield sim
    sim.stop()


@pytest.fixture
def vdeavk() -> Iterator[Simulated]:
    sim = Simulated("vdeavk", VdeavkService(seed=7)).start()
    yield sim
    sim.stop()


@pytest.fixture
def burvis(tmp_path: Path) -> Iterator[Simulated]:
    sim = Simulated("burvis", BurvisService(RecordStore(tmp_path / "burvis.sqlite3"), seed=7)).start()
    yield sim
    sim.stop()
    sim.store.close()


class _Intake:
    """A municipal system's intake simulator with its store, shaped like the other services."""

    def __init__(self, system: str, path: Path) -> None:
        self.store = RecordStore(path)
        self.server = discover()[system].simulator.intake.service(system, self.store)

    def app(self):  # type: ignore[no-untyped-def]
        return self.server.app()


@pytest.fixture
def sopa(tmp_path: Path) -> Iterator[Simulated]:
    sim = Simulated("sopa", _Intake("sopa", tmp_path / "sopa.sqlite3")).start()
    yield sim
    sim.stop()
    sim.store.close()


@pytest.fixture
def lietis(tmp_path: Path) -> Iterator[Simulated]:
    sim = Simulated("lietis", _Intake("lietis", tmp_path / "lietis.sqlite3")).start()
    yield sim
    sim.stop()
    sim.store.close()


SIMULATED = ("vsaa", "vdeavk", "burvis", "sopa", "lietis")  # started for tests that ask; SPOLIS always runs


@pytest.fixture
def start_hub(request, tmp_path: Path, spolis: Simulated, broker_prefix: str) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []
    simulators = [spolis, *(request.getfixturevalue(name) for name in SIMULATED if name in request.fixturenames)]
    endpoints = {sim.system: sim.endpoint for sim in simulators}

    def start(broker_url: str = "memory://", *, gateway: bool = True, workers: bool = True, **overrides) -> Hub:
        settings = hub_settings(tmp_path, endpoints, broker_prefix, broker_url, **overrides)
        hub = Hub(settings).start(gateway=gateway, workers=workers)
        hubs.append(hub)
        hub.wait_until_consuming()
        return hub

    yield start
    # Everything stops at once: each hub's threads, its HTTP server, and the simulators (whose fixtures
    # then find them stopped). One after the other, stopping took a good part of the suite's time.
    for hub in hubs:
        hub.supervisor.stopping.set()
    with ThreadPoolExecutor(len(hubs) + len(simulators)) as stopping:
        for stopped in [stopping.submit(hub.stop) for hub in hubs] + [stopping.submit(s.stop) for s in simulators]:
            stopped.result()


@pytest.fixture(scope="session")
def reader():
    """How the gateway reads requests, without broker or HTTP (unsigned, as the offline contract kit
    reads them): what the contract tests hold samples against and the fuzz tests throw mutations at."""
    return build(Settings()).reader(offline=True)


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory) -> Path:
    """Development keys and certificates for the hub and every system, made once per test run."""
    directory = tmp_path_factory.mktemp("pki")
    devpki.create(directory, ["hub", *discover()])
    return directory


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> Iterator[Database]:
    """The hub's database on SQLite (the default) and on PostgreSQL, each fresh."""
    sealer = Sealer([Fernet.generate_key()])
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", sealer)
        yield db
        db.close()
        return
    with postgresql_store() as url:
        db = Database(url, sealer)
        yield db
        db.close()
