"""What more than one test module uses, other than fixtures (those are in the conftest.py files): a
test module imports from here, never from another test module or a conftest.py. Beside this module:
`hostile` (the corpus of hostile requests), `wsse` (signed messages to attack) and `interop` (what the
partners' WS-Security stacks exchange with the hub)."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import pytest
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, event, text

from adapters.sopa.dialect import from_canonical
from adapters.spolis.simulator import SpolisService
from adapters.vsaa.dialect import query_to_xml
from hub.canonical import Municipality
from hub.canonical.queries import GrantedBenefitsQuery
from hub.envelope import Envelope
from hub.http_server import ServerThread
from hub.settings import PROJECT_ROOT, GivenSettings, Settings, environment, without_hub_variables
from hub.simulation.client import Answer, HubClient
from hub.simulation.record_store import RecordStore
from hub.simulation.records import RecordFactory
from hub.soap import SOAP11_NS
from hub.store.failed import Attempt, Failure

T = TypeVar("T")

SCHEMAS = PROJECT_ROOT / "schemas"
FAST_ROUTES = Path(__file__).parent.parent / "routes_fast.toml"
AMQP_URL = os.environ.get("HUB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
PG_URL = os.environ.get("HUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SOAP = {"Content-Type": "text/xml; charset=utf-8"}
RIGA = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
TODAY = dt.date.today()
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


# Waiting, and what a test needs from the machine


def wait_for(predicate: Callable[[], T], timeout: float = 30.0) -> T:
    """Poll `predicate` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def running(loop: Any) -> tuple[threading.Event, threading.Thread]:
    """`loop.run(stop)` in a thread of its own (a consumer loop, the dead-letter mover): set the event
    and join the thread to end it."""
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def required_tool(name: str, package: str) -> str:
    """The path of a command a test needs; under CI=true its absence fails the test instead of skipping."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (Debian's {package} package; .ci/run installs it)")
    return path


def missing(what: str) -> NoReturn:
    """A test cannot have what it needs: under CI=true it fails, elsewhere it is skipped."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: a test must not skip for what the machine should give it)")
    pytest.skip(what)


@contextmanager
def postgresql_store() -> Iterator[str]:
    """The store URL of a PostgreSQL schema of the caller's own, dropped after."""
    schema = f"hubtest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        missing(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# Property tests

# A property test says how many examples it was written for, `examples(n)`; a run tries a fifth of
# them (at least 25), new ones each run, so that the suite stays quick where people run it. The real
# number: HUB_TEST_EXAMPLES=full, and by default under CI=true. HUB_TEST_EXAMPLES=<n> tries n each
# (a long hunt, say). A failing example is kept in .hypothesis/ and tried first next time, whatever
# the number.
_EXAMPLES = os.environ.get("HUB_TEST_EXAMPLES") or ("full" if os.environ.get("CI") == "true" else "")


def examples(written_for: int) -> int:
    """How many examples a property test written for `written_for` tries in this run."""
    if _EXAMPLES == "full":
        return written_for
    if _EXAMPLES:
        return int(_EXAMPLES)
    return min(written_for, max(25, written_for // 5))


# The gateway over HTTP


def post(hub, system: str, data: bytes, headers=SOAP) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(f"{hub.gateway_url}/soap/{system}", content=data, headers=headers, timeout=30)


def body_of(response: httpx.Response) -> etree._Element:
    return etree.fromstring(response.content).find(f"{{{SOAP11_NS}}}Body")[0]


def metric(hub, name: str, labels: dict[str, str] | None = None) -> float:  # type: ignore[no-untyped-def]
    """On the /metrics of `hub` (a Hub, or the base URL of a `hub serve` process), the sum of the
    samples named `name` whose labels include `labels` (all of them without): 0 when none yet."""
    url = hub if isinstance(hub, str) else hub.gateway_url
    wanted = (labels or {}).items()
    families = text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
    return sum(p.value for f in families for p in f.samples if p.name == name and wanted <= p.labels.items())


def sample(system: str, name: str) -> bytes:
    """A valid sample message of `system`'s, as a partner copies it."""
    return (SCHEMAS / system / "samples" / "valid" / f"{name}.xml").read_bytes()


def factory(seed: int) -> RecordFactory:
    """Records from Riga, the same for the same seed."""
    return RecordFactory(municipality=RIGA, record_prefix="W", decision_prefix="W", rng=random.Random(seed))


def submit(hub, records) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """SOPA sends `records` to SPOLIS as one load; message id by record id, as the receipt told."""
    client = HubClient(hub.gateway_url, sender="sopa", retries=0)
    body = from_canonical(records, RIGA, "P-1")
    submitted = client.submit(body, destination="spolis", user_id="u.1", records=len(records))
    client.close()
    assert submitted.accepted, submitted.fault
    status = hub.store.receipt_status(submitted.receipt_id)
    assert sorted(r.message_id for r in status.records) == sorted(submitted.message_ids)
    return {r.record_id: r.message_id for r in status.records}


def ep51(code: str) -> etree._Element:
    """VSAA's EP51 question: the benefits granted to a person today."""
    return query_to_xml(GrantedBenefitsQuery(person_code=code, as_of=TODAY))


def ask(
    hub,  # type: ignore[no-untyped-def]
    body: etree._Element,
    *,
    sender: str = "sopa",
    purpose: str | None = "sociālās palīdzības lēmuma sagatavošana",
    user: str = "rsd.soc.darbinieks.014",
) -> Answer:
    """A per-person query to VSAA through the hub."""
    client = HubClient(hub.gateway_url, sender=sender, retries=0)
    try:
        return client.call(body, destination="vsaa", user_id=user, purpose=purpose)
    finally:
        client.close()


# The failed-message store


def envelope(source: str = "sopa") -> Envelope:
    record = factory(random.randrange(1000)).benefit()
    return Envelope.of(
        record, source=source, target="spolis", user_id="u.1", correlation_id=uuid.uuid4(), created_at=NOW
    )


def sqlite_plan(engine: Engine, action: Callable[[], object]) -> list[str]:
    """SQLite's query plan of the last statement `action` makes, one step per line."""
    statements: list[tuple[str, Any]] = []

    def capture(*sent: Any) -> None:
        statements.append((sent[2], sent[3]))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", capture)  # a later call sees only its own statements
    statement, parameters = statements[-1]
    with engine.connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]


def failure(env: Envelope, message: str, error_class: str = "target_rejected") -> Failure:
    return Failure(env, env.to_json(), "spolis", error_class, message, (Attempt(NOW, error_class, message),))


# Hostile requests (the corpus is in `hostile`)

BOUND_SECONDS = 10.0  # a refusal must come this fast, on any machine: a bound, not a benchmark


class Listener:
    """A TCP port that records whether anybody connected: the hub must never fetch what it parses."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


def send_hostile(url: str, hostile) -> httpx.Response:  # type: ignore[no-untyped-def]
    content = iter([hostile.body[i : i + 65536] for i in range(0, len(hostile.body), 65536)])
    return httpx.post(
        f"{url}/soap/sopa",
        content=content if hostile.chunked else hostile.body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=60,
    )


def check_refusal(url: str, hostile, *, signatures: bool = False) -> None:  # type: ignore[no-untyped-def]
    """With `signatures` required, what passes the parser is refused for its missing signature first."""
    rule = hostile.rule if hostile.before_signature or not signatures else "signature-required"
    started = time.monotonic()
    response = send_hostile(url, hostile)
    elapsed = time.monotonic() - started
    assert response.status_code == hostile.status, response.text[:500]
    assert elapsed < BOUND_SECONDS, f"{hostile.name} took {elapsed:.1f} s"
    text = response.text
    assert "root:" not in text and "Traceback" not in text and "internal error" not in text
    assert len(text) < 20_000, "the answer must not echo the attack back"
    if rule:
        assert f"<hub:Rule>{rule}</hub:Rule>" in text, text[:1000]
        assert "<faultcode>soap:Client</faultcode>" in text or "soap:VersionMismatch" in text


# Simulators


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


# Hub settings and processes


def own_store(folder: Path) -> dict[str, Any]:
    """A test hub's store, keys and audit checkpoints in `folder`, and the fast routes."""
    return {
        "store_url": f"sqlite:///{folder / 'hub.sqlite3'}",
        "store_key_file": folder / "store.key",
        "pseudonym_key_file": folder / "pseudonym.key",
        "audit_key_file": folder / "audit.key",
        "audit_checkpoint_file": folder / "audit-checkpoints.jsonl",
        "routes_file": FAST_ROUTES,
    }


def hub_settings(
    folder: Path, endpoints: dict[str, str], broker_prefix: str, broker_url: str = "memory://", **overrides: Any
) -> Settings:
    """A test's hub: its store and keys in `folder`, the fast routes, any free port, signatures off (the
    flows; the tests of signatures sign); `overrides` changes any setting."""
    values = {
        "broker_url": broker_url,
        "broker_prefix": broker_prefix,
        "http_port": 0,
        **own_store(folder),
        "endpoints": endpoints,
        "target_timeout_seconds": 2.0,
        "signatures": "off",
        **overrides,
    }
    return Settings(**values)


def simulated_spolis(folder: Path) -> Simulated:
    """The SPOLIS simulator, its store in `folder`, started."""
    return Simulated("spolis", SpolisService(RecordStore(folder / "spolis.sqlite3"), seed=7)).start()


def signed(pki: Path) -> dict[str, Any]:
    """Hub settings with signatures required, trusting the certificates in `pki`."""
    return {
        "signatures": "required",
        "partner_certs_dir": pki,
        "signing_key_file": pki / "hub.key",
        "signing_cert_file": pki / "hub.pem",
    }


def same_hub_environment(hub, **overrides: Any) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Environment for a `hub` command in another process that works on the same broker, store, keys
    and routes: the settings `hub` was started with, and `overrides`."""
    return {**without_hub_variables(), **environment(hub.settings.model_copy(update=overrides))}


def serve_env(amqp_url: str, prefix: str, folder: Path, pki: Path, **settings: Any) -> dict[str, str]:
    """The environment of a `hub serve` process of a test: RabbitMQ, signatures required, its store and
    keys in `folder`, the fast routes; `settings` adds or overrides settings."""
    values = {
        "broker_url": amqp_url,
        "broker_prefix": prefix,
        **own_store(folder),
        **signed(pki),
        **settings,
    }
    return {"PATH": "/usr/bin:/bin", **environment(GivenSettings(**values))}


def hub_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path = PROJECT_ROOT
) -> subprocess.CompletedProcess[str]:
    """A `hub` command as a user runs it, with the HUB_ variables in `env` only (not the shell's), in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**without_hub_variables(), **(env or {})},
    )


def serve(
    role: str, port: int, env: dict[str, str], log: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """A `hub serve --role <role>` process on `port`; `new_session`: in a process group of its own, as a
    terminal starts a command."""
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--role", role],
        cwd=PROJECT_ROOT,
        env={**env, "HUB_HTTP_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=new_session,
    )


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
