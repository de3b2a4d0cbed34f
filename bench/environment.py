"""What every measurement shares: the broker, a work folder with development keys, the processes a
stage starts (each its own OS process, as in production), and their cleanup."""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.machine import tree_seconds
from hub import devpki
from hub.broker.codec import BrokerCodec
from hub.settings import PROJECT_ROOT, GivenSettings, environment
from hub.simulation import pki
from hub.simulation.local import free_port
from hub.simulation.rabbit_nodes import delete_broker_objects
from hub.soap.signature import Signer
from hub.store.crypto import Sealer


@dataclass(frozen=True)
class Size:
    """How much each measurement moves; `tiny` only proves the bench runs."""

    name: str
    records: int  # raw limits, gateway ingest, worker delivery, end to end
    naive_records: int
    celery_records: int
    queries: int  # per caller count, at 1 caller; fewer each at 10 and 50
    backlog: int
    backlog_seconds: float  # how long the worker drains the backlog while its memory is watched
    refusals: int  # sends of each request made to cost CPU, and loads of 100 timed alone and under attack


SIZES = {
    "tiny": Size("tiny", 400, 100, 100, 20, 2_000, 3.0, 2),
    "small": Size("small", 5_000, 500, 1_000, 100, 50_000, 15.0, 10),
    "full": Size("full", 20_000, 2_000, 5_000, 300, 1_000_000, 60.0, 10),
}
STORES = ("sqlite", "postgresql")
PG_URL = os.environ.get("HUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


HTTP = httpx.Client(timeout=5)  # one client: polling must not cost a TLS context each time


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, alive: Callable[[], None] | None = None
) -> None:
    """Poll `condition`; `alive` raises when a process it depends on has died, so nobody waits in vain."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (httpx.HTTPError, OSError):
            pass
        if alive is not None:
            alive()
        time.sleep(0.05)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process and all its descendants, alive or reaped; None off Linux."""
    return tree_seconds(pid)


def answers(url: str) -> bool:
    return HTTP.get(url).status_code == 200


PORT_TRIES = 5
_PORT_TAKEN = "address already in use"  # what a process says, in whichever case, when its bind fails


class PortTaken(Exception):
    """Another process took the port between `free_port()` and the bind."""


@dataclass
class Bench:
    amqp_url: str
    work: Path
    size: Size
    profile: str | None = None  # a hub role (gateway, worker) whose processes py-spy records
    prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:6]}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    profilers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    profiles: list[Path] = field(default_factory=list)
    store: str = "sqlite"  # the store the hub processes started next use (STORES)
    round: int = 0  # which repeat of the sections; every stage of every round and store starts empty
    pg_url: str = PG_URL
    database: str | None = None  # this run's own PostgreSQL database, made when first needed
    schemas: dict[str, str] = field(default_factory=dict)  # the store URL of each stage's key
    logs: dict[int, Path] = field(default_factory=dict)  # where each process started writes, by its pid

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.pki = self.work / "pki"
        self.store_key = self.work / "store.key"
        devpki.create(self.pki, ["hub", "sopa", "spolis", "vsaa"])

    def codec(self) -> BrokerCodec:
        """Seals and opens as this run's hub processes do: they share its store key."""
        return BrokerCodec(Sealer.from_config(None, self.store_key))

    def signer(self, system: str) -> Signer:
        signer = pki.signer_for(system, self.pki)
        assert signer is not None, f"no development key for {system}"
        return signer

    def key(self, stage: str) -> str:
        """The stage's name in this round and store, so that no stage finds another's queues or rows."""
        return f"{stage}-{self.store}{self.round}"

    def broker_prefix(self, stage: str) -> str:
        return f"{self.prefix}-{self.key(stage)}"

    def store_url(self, stage: str) -> str:
        """The stage's own store: a SQLite file, or a schema of this run's PostgreSQL database."""
        if self.store == "sqlite":
            return f"sqlite:///{self.work / f'{self.key(stage)}.sqlite3'}"
        key = self.key(stage)
        if key not in self.schemas:
            schema = re.sub(r"\W", "_", key).lower()
            url = self._database_url()
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            try:
                with engine.begin() as conn:
                    conn.execute(text(f"CREATE SCHEMA {schema}"))
            finally:
                engine.dispose()
            self.schemas[key] = f"{url}?options=-csearch_path%3D{schema}"
        return self.schemas[key]

    def _database_url(self) -> str:
        base = self.pg_url.rsplit("/", 1)[0]
        if self.database is None:
            name = f"bench_{uuid.uuid4().hex[:8]}"
            self._admin(f"CREATE DATABASE {name}")
            self.database = name
        return f"{base}/{self.database}"

    def _admin(self, statement: str) -> None:
        engine = create_engine(
            self.pg_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def drop_database(self) -> None:
        """Remove this run's PostgreSQL database, if it made one."""
        if self.database is not None:
            self._admin(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            self.database = None

    def hub_env(self, stage: str, **extra: str) -> dict[str, str]:
        """A hub process's environment: production-like settings (signatures required, RabbitMQ, quorum
        queues, the store of `self.store`); `extra` adds or overrides HUB_ variables."""
        settings = GivenSettings(
            broker_url=self.amqp_url,
            broker_prefix=self.broker_prefix(stage),
            store_url=self.store_url(stage),
            store_key_file=self.store_key,
            pseudonym_key_file=self.work / "pseudonym.key",
            audit_key_file=self.work / "audit.key",
            audit_checkpoint_file=self.work / f"{self.key(stage)}-audit-checkpoints.jsonl",
            signatures="required",
            partner_certs_dir=self.pki,
            signing_key_file=self.pki / "hub.key",
            signing_cert_file=self.pki / "hub.pem",
            log_level="WARNING",
        )
        return {**{k: v for k, v in os.environ.items() if not k.startswith("HUB_")}, **environment(settings), **extra}

    def start(
        self, name: str, args: list[str], env: dict[str, str] | None = None, *, python: bool = True
    ) -> subprocess.Popen[bytes]:
        path = self.work / f"{name}.log"
        command = [sys.executable, *args] if python else args
        with path.open("wb") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env or dict(os.environ), stdout=log, stderr=log)
        self.processes.append(process)
        self.logs[process.pid] = path
        return process

    def run(self, name: str, args: list[str], timeout: float) -> float:
        """A process that does its job and ends (the load generator); the CPU seconds it spent. Raises
        with its log if it fails."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = self.start(name, args)
        self.processes.remove(process)
        if process.wait(timeout=timeout) != 0:
            raise RuntimeError(f"{name} failed: {(self.work / f'{name}.log').read_text(errors='replace')[-2000:]}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the only child reaped meanwhile
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    def alive(self) -> None:
        """Raise, with the end of its log, when a process this run started has exited."""
        for process in self.processes:
            if process.poll() is not None:
                tail = self._log_of(process)[-1500:]
                raise RuntimeError(f"a process of this run exited ({process.args}): {tail}")

    def hub(self, name: str, role: str, env: dict[str, str]) -> str:
        """A `hub serve` process; its base URL once it is ready."""
        url = self.listening(
            name,
            lambda port: self.start(name, ["-m", "hub", "serve", "--role", role], {**env, "HUB_HTTP_PORT": str(port)}),
            lambda base: answers(f"{base}/readyz"),
            120,
        )
        if self.profile == role:
            self._record(name, self.processes[-1].pid)
        return url

    def listening(
        self,
        name: str,
        launch: Callable[[int], subprocess.Popen[bytes]],
        ready: Callable[[str], bool],
        timeout: float,
    ) -> str:
        """Start a process listening on a free port and wait until it is ready; its base URL. Another
        process may take the port between `free_port()` and the bind: then the process exits saying the
        address is in use, and it starts again on another port."""
        for _ in range(PORT_TRIES):
            if base := self._ready_on_a_free_port(name, launch, ready, timeout):
                return base
        raise RuntimeError(f"{name}: every one of {PORT_TRIES} free ports was taken before it could bind")

    def _ready_on_a_free_port(
        self,
        name: str,
        launch: Callable[[int], subprocess.Popen[bytes]],
        ready: Callable[[str], bool],
        timeout: float,
    ) -> str | None:
        """One try of `listening`: None when the port was taken."""
        port = free_port()
        process, base = launch(port), f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: ready(base), timeout, f"{name} ready", lambda: self._listens(process))
        except PortTaken:
            self.processes.remove(process)
            return None
        except TimeoutError as error:
            raise TimeoutError(f"{error}: {self._log_of(process)[-1500:]}") from error
        return base

    def _listens(self, process: subprocess.Popen[bytes]) -> None:
        """`alive`, but a process that exited because its port was taken raises PortTaken."""
        if process.poll() is not None and _PORT_TAKEN in self._log_of(process).lower():
            raise PortTaken(process.args)
        self.alive()

    def _log_of(self, process: subprocess.Popen[bytes]) -> str:
        return self.logs[process.pid].read_text(errors="replace")

    def _record(self, name: str, pid: int) -> None:
        """py-spy samples the process (the threads holding the GIL) until it ends: a flame graph."""
        out = self.work / f"profile-{name}.svg"
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        command = [spy, "record", "--pid", str(pid), "--gil", "--rate", "200", "-o", str(out)]
        self.profilers.append(self.start(f"py-spy-{name}", command, python=False))
        self.processes.remove(self.profilers[-1])
        self.profiles.append(out)

    def simulator(self, system: str, *, signed: bool = True) -> str:
        """A target's simulator process (no artificial latency), demanding the hub's signature as the
        state systems would (`signed=False` for the peers, which sign nothing); its SOAP endpoint."""

        def launch(port: int) -> subprocess.Popen[bytes]:
            db = ["--db", str(self.work / f"{system}-{port}.sqlite3")] if system == "spolis" else []
            pki = ["--pki", str(self.pki if signed else self.work / "no-keys")]
            return self.start(f"{system}-{port}", ["-m", "hub", "simulate", system, "--port", str(port), *db, *pki])

        base = self.listening(f"{system} simulator", launch, lambda base: answers(f"{base}/_sim/stats"), 30)
        return f"{base}/soap/{system}"

    def stop_all(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in [*self.processes, *self.profilers]:  # a profiler writes its graph once its process ended
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        self.profilers.clear()

    def delete_queues(self) -> None:
        """Remove every queue and exchange this run declared (their names start with the prefix), in
        whichever virtual host."""
        delete_broker_objects(self.amqp_url, self.prefix)


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB"
    rabbitmq = subprocess.run(
        ["rabbitmqctl", "-q", "version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return (
        f"{platform.node()}: {cpus} CPUs{memory}, {platform.platform()}, Python {platform.python_version()}, "
        f"RabbitMQ {rabbitmq or '?'}"
    )
