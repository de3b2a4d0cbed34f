"""Shared fixtures: a real RabbitMQ (required under CI=true), the SPOLIS simulator over HTTP, a hub."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from cryptography.fernet import Fernet
from kombu import Connection
from sqlalchemy import create_engine, text

from adapters.burvis.simulator import BurvisService
from adapters.spolis.simulator import SpolisService
from adapters.vdeavk.simulator import VdeavkService
from adapters.vsaa.simulator import VsaaService
from hub import devpki
from hub.http_server import ServerThread
from hub.runtime import Hub, build
from hub.settings import PROJECT_ROOT, Settings
from hub.simulation.record_store import RecordStore
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.systems import discover

AMQP_URL = os.environ.get("HUB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
SCHEMAS = PROJECT_ROOT / "schemas"
FAST_ROUTES = Path(__file__).parent / "routes_fast.toml"


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
        message = f"RabbitMQ is not reachable at {AMQP_URL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: tests that need RabbitMQ must not skip)")
        pytest.skip(message)
    return AMQP_URL


@pytest.fixture
def broker_prefix(request) -> Iterator[str]:
    """A fresh name prefix per test, so tests never share queues; on RabbitMQ they are deleted after."""
    prefix = f"hubtest-{uuid.uuid4().hex[:8]}"
    yield prefix
    if "amqp_url" in request.fixturenames:
        delete_broker_objects(prefix)


def delete_broker_objects(prefix: str) -> None:
    """Delete a test's queues and exchanges (rabbitmqctl lists them; AMQP cannot)."""
    names = {}
    for kind in ("queues", "exchanges"):
        try:
            listed = subprocess.run(
                ["rabbitmqctl", "-q", f"list_{kind}", "name"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return
        names[kind] = [n for n in listed.stdout.split() if n.startswith(prefix + ".")]
    with Connection(AMQP_URL) as connection:
        channel = connection.channel()
        for queue in names["queues"]:
            channel.queue_delete(queue)
        for exchange in names["exchanges"]:
            channel.exchange_delete(exchange)


@pytest.fixture(params=["memory", "rabbitmq"])
def broker_url(request) -> str:
    """The embedded broker and the real RabbitMQ: the hub must behave the same on both."""
    return "memory://" if request.param == "memory" else request.getfixturevalue("amqp_url")


@dataclass
class Simulated:
    """A system's simulator on a fixed port, so a test can take it down and bring it back."""

    system: str
    service: Any  # has .app() and .server (a SoapServer) with .knobs
    server: ServerThread | None = None
    port: int = 0

    def start(self) -> Simulated:
        self.server = ServerThread(self.service.app(), "127.0.0.1", self.port, name=f"{self.system}-test").start()
        self.port = self.server.port
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def knobs(self) -> Any:
        return getattr(self.service, "server", self.service).knobs

    @property
    def store(self) -> Any:
        return self.service.store

    @property
    def calls(self) -> int:
        server = getattr(self.service, "server", self.service)
        return server.counts["calls"] if server._count is None else self.store.stats()["calls"]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/soap/{self.system}"


@pytest.fixture
def spolis(tmp_path: Path) -> Iterator[Simulated]:
    sim = Simulated("spolis", SpolisService(RecordStore(tmp_path / "spolis.sqlite3"), seed=7)).start()
    yield sim
    sim.stop()
    sim.store.close()


@pytest.fixture
def vsaa() -> Iterator[Simulated]:
    sim = Simulated("vsaa", VsaaService(seed=7)).start()
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
    endpoints = {"spolis": spolis.endpoint}
    for name in SIMULATED:
        if name in request.fixturenames:
            endpoints[name] = request.getfixturevalue(name).endpoint

    def start(broker_url: str = "memory://", *, gateway: bool = True, workers: bool = True, **overrides) -> Hub:
        values = {
            "broker_url": broker_url,
            "broker_prefix": broker_prefix,
            "http_port": 0,
            "store_url": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
            "store_key_file": tmp_path / "store.key",
            "pseudonym_key_file": tmp_path / "pseudonym.key",
            "audit_key_file": tmp_path / "audit.key",
            "audit_checkpoint_file": tmp_path / "audit-checkpoints.jsonl",
            "routes_file": FAST_ROUTES,
            "endpoints": endpoints,
            "target_timeout_seconds": 2.0,
            "signatures": "off",  # the flows; test_gateway_signatures and test_prometheus sign
            **overrides,
        }
        settings = Settings(**values)
        hub = Hub(settings).start(gateway=gateway, workers=workers)
        hubs.append(hub)
        hub.wait_until_consuming()
        return hub

    yield start
    for hub in hubs:
        hub.stop()


def same_hub_environment(hub: Hub) -> dict[str, str]:
    """Environment for a `hub` command in another process that works on the same broker, store and routes."""
    settings = hub.settings
    return {
        **os.environ,
        "HUB_BROKER_URL": settings.broker_url,
        "HUB_BROKER_PREFIX": settings.broker_prefix,
        "HUB_STORE_URL": settings.store_url,
        "HUB_STORE_KEY_FILE": str(settings.store_key_file),
        "HUB_ROUTES_FILE": str(settings.routes_file),
        "HUB_ACCESS_FILE": str(settings.access_file),
        "HUB_PSEUDONYM_KEY_FILE": str(settings.pseudonym_key_file),
        "HUB_AUDIT_KEY_FILE": str(settings.audit_key_file),
        "HUB_AUDIT_CHECKPOINT_FILE": str(settings.audit_checkpoint_file),
        "HUB_SIGNATURES": settings.signatures,
        "HUB_PARTNER_CERTS_DIR": str(settings.partner_certs_dir),
        "HUB_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "HUB_SIGNING_CERT_FILE": str(settings.signing_cert_file),
        **{f"HUB_ENDPOINTS__{name.upper()}": url for name, url in settings.endpoints.items()},
    }


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


def serve_env(amqp_url: str, prefix: str, folder: Path, pki: Path, **settings: str) -> dict[str, str]:
    """The environment of a `hub serve` process of a test: RabbitMQ, signatures required, its store and
    keys in `folder`, the fast routes; `settings` adds or overrides HUB_ variables."""
    return {
        "PATH": "/usr/bin:/bin",
        "HUB_BROKER_URL": amqp_url,
        "HUB_BROKER_PREFIX": prefix,
        "HUB_STORE_URL": f"sqlite:///{folder / 'hub.sqlite3'}",
        "HUB_STORE_KEY_FILE": str(folder / "store.key"),
        "HUB_PSEUDONYM_KEY_FILE": str(folder / "pseudonym.key"),
        "HUB_AUDIT_KEY_FILE": str(folder / "audit.key"),
        "HUB_AUDIT_CHECKPOINT_FILE": str(folder / "audit-checkpoints.jsonl"),
        "HUB_ROUTES_FILE": str(FAST_ROUTES),
        "HUB_SIGNATURES": "required",
        "HUB_PARTNER_CERTS_DIR": str(pki),
        "HUB_SIGNING_KEY_FILE": str(pki / "hub.key"),
        "HUB_SIGNING_CERT_FILE": str(pki / "hub.pem"),
        **{f"HUB_{name.upper()}": value for name, value in settings.items()},
    }


def signed(pki: Path) -> dict[str, Any]:
    """Hub settings with signatures required, trusting the certificates in `pki`."""
    return {
        "signatures": "required",
        "partner_certs_dir": pki,
        "signing_key_file": pki / "hub.key",
        "signing_cert_file": pki / "hub.pem",
    }


PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> Iterator[Database]:
    """The hub's database on SQLite (the default) and on PostgreSQL, each fresh."""
    sealer = Sealer([Fernet.generate_key()])
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", sealer)
        yield db
        db.close()
        return
    schema = f"hubtest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    db = Database(f"{PG_URL}?options=-csearch_path%3D{schema}", sealer)
    yield db
    db.close()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
