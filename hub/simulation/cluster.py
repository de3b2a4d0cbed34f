"""The production topology of docker-compose.yml on one machine, without Docker (`hub cluster dev`,
and the cluster fault tests): a three-node RabbitMQ cluster, PostgreSQL as the hub's store, two
gateway processes behind HAProxy, two worker processes and the target systems' simulators, each a
process of its own on free ports, everything under one folder that goes with it. Every part can be
killed, paused or restarted without touching a RabbitMQ or PostgreSQL the machine runs for others.

Development only: the production image does not ship `hub.simulation`."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

import httpx
from cryptography.fernet import Fernet

from hub import devpki
from hub.settings import PROJECT_ROOT, GivenSettings, Settings, environment, without_hub_variables
from hub.simulation.balancer import Balancer
from hub.simulation.local import free_port, wait_until
from hub.simulation.postgres import PostgresServer
from hub.simulation.rabbit_nodes import RabbitCluster
from hub.systems import SystemAdapter, discover


def targets() -> dict[str, SystemAdapter]:
    """The systems the hub delivers to or asks that have a simulator: the ones docker-compose.yml runs."""
    return {
        name: system
        for name, system in discover().items()
        if (system.delivery_target or system.query_target) and system.simulator_module
    }


def _options(system: SystemAdapter) -> set[str]:
    """The options `hub simulate <system>` takes."""
    parser = argparse.ArgumentParser(add_help=False)
    assert system.simulator is not None
    system.simulator.add_arguments(parser)
    return {option for action in parser._actions for option in action.option_strings}


START_TIMEOUT = 120.0


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class Child:
    """A `hub ...` command as a child process on `port`, its output in `log`; started and stopped again
    as often as a test needs, SIGKILLed as a crash would end it."""

    def __init__(self, name: str, args: Sequence[str], port: int, env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.port, self.env, self.log = name, list(args), port, env, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Self:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub", *self.args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in `hub cluster dev` reaches the command, which stops its children
            )
        return self

    def ready(self) -> bool:
        """Whether the process answers: `/readyz` says 200 for a hub process, the port is open for a simulator."""
        if not self.running:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:]) if self.log.exists() else ""
            raise RuntimeError(f"{self.name} exited with {self.process and self.process.returncode}:\n{tail}")
        if self.args[0] != "serve":
            return _listening(self.port)
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = START_TIMEOUT) -> Self:
        wait_until(self.ready, timeout, f"{self.name} did not get ready")
        return self

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing said goodbye to."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class DevCluster:
    """Everything under `folder` (a new temporary one by default, removed by `remove`). `targets`: the
    simulators to run (SPOLIS is the one the F1 loads reach); `balancer_port`: where partners send
    (free by default)."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        gateways: int = 2,
        workers: int = 2,
        simulated: Sequence[str] | None = None,
        balancer_port: int = 0,
        log_level: str = "WARNING",
        settings: dict[str, object] | None = None,
    ) -> None:
        self._own_folder = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="hub-cluster-")) if folder is None else folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o711)  # PostgreSQL runs as its own user below it
        self.pki = self.folder / "pki"
        self.logs = self.folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.rabbit = RabbitCluster(3, self.folder / "rabbitmq", prefix=f"hubdev-{secrets.token_hex(3)}")
        self.postgres = PostgresServer(self.folder / "postgres")
        known = targets()
        unknown = set(simulated or ()) - set(known)
        if unknown:
            raise ValueError(f"no simulator for {', '.join(sorted(unknown))}")
        self.simulators = {name: self._simulator(known[name]) for name in simulated or known}
        self.settings = self._hub_settings(log_level, settings or {})
        self.gateways = [self._hub("gateway", n) for n in range(1, gateways + 1)]
        self.workers = [self._hub("worker", n) for n in range(1, workers + 1)]
        self.balancer = Balancer(
            self.folder / "haproxy", balancer_port or free_port(), [f"127.0.0.1:{g.port}" for g in self.gateways]
        )

    @property
    def url(self) -> str:
        """Where partners send: the balancer."""
        return self.balancer.url

    def store_of(self, system: str) -> Path:
        """A target simulator's own store: what reached that system."""
        return self.folder / f"{system}.sqlite3"

    def _simulator(self, system: SystemAdapter) -> Child:
        """The system's simulator as the target it is here: serving (a municipal one serves its intake
        with `--serve`), with its store in the cluster's folder where it keeps one."""
        name, port, options = system.name, free_port(), _options(system)
        args = ["simulate", name, *(["--serve"] if "--serve" in options else []), "--port", str(port)]
        args += ["--pki", str(self.pki)]
        if "--db" in options:
            args += ["--db", str(self.store_of(name))]
        env = {**without_hub_variables(), "HUB_LOG_LEVEL": "WARNING"}
        return Child(f"{name} simulator", args, port, env, self.logs / f"{name}.log")

    def _hub_settings(self, log_level: str, overrides: dict[str, object]) -> Settings:
        """One set of settings for every hub process: the keys given, not generated by whichever
        process starts first."""
        endpoints = {name: f"{sim.url}/soap/{name}" for name, sim in self.simulators.items()}
        return GivenSettings(
            broker_url=self.rabbit.url,
            store_url=self.postgres.url,
            store_keys=Fernet.generate_key().decode(),
            pseudonym_key=secrets.token_hex(32),
            audit_key=secrets.token_hex(32),
            store_key_file=self.folder / "store.key",
            pseudonym_key_file=self.folder / "pseudonym.key",
            audit_key_file=self.folder / "audit.key",
            audit_checkpoint_file=self.folder / "audit-checkpoints.jsonl",
            signatures="required",
            partner_certs_dir=self.pki,
            signing_key_file=self.pki / "hub.key",
            signing_cert_file=self.pki / "hub.pem",
            endpoints=endpoints,
            log_level=log_level,
            **overrides,
        )

    def _hub(self, role: str, number: int) -> Child:
        port = free_port()
        env = {**without_hub_variables(), **environment(self.settings), "HUB_HTTP_PORT": str(port)}
        return Child(f"{role}-{number}", ["serve", "--role", role], port, env, self.logs / f"{role}-{number}.log")

    @property
    def hubs(self) -> list[Child]:
        return [*self.gateways, *self.workers]

    def start(self) -> Self:
        """Start every part, the slow ones side by side, and return once partners can send."""
        try:
            with ThreadPoolExecutor(3) as pool:
                rabbit = pool.submit(self.rabbit.start)
                postgres = pool.submit(self.postgres.start)
                devpki.create(self.pki, ["hub", *sorted(discover())])
                for simulator in self.simulators.values():
                    simulator.start()
                postgres.result()
                rabbit.result()
            for simulator in self.simulators.values():
                simulator.wait_ready()
            for process in self.hubs:  # together, as a deployment's processes start: they race to create tables
                process.start()
            for process in self.hubs:
                process.wait_ready()
            self.balancer.start()
            wait_until(self.balancer.answers, 30, "the balancer did not reach a gateway")
        except BaseException:
            self.remove()
            raise
        return self

    def urls(self) -> dict[str, str]:
        """What runs where, for people."""
        found = {"balancer (partners send here)": self.url}
        found |= {f"{g.name} (SOAP, /metrics, /readyz)": g.url for g in self.gateways}
        found |= {f"{w.name} (/metrics, /readyz)": w.url for w in self.workers}
        found |= {f"rabbitmq {node.name}": node.url for node in self.rabbit.nodes}
        found["postgresql (HUB_STORE_URL)"] = self.postgres.url
        found |= {sim.name: f"{sim.url}/soap/{name}" for name, sim in self.simulators.items()}
        found["folder (keys in pki/, logs in logs/)"] = str(self.folder)
        return found

    def stop(self) -> None:
        """Stop every process: the hub's first, so nothing they do meets a part already gone."""
        self.balancer.stop()
        with ThreadPoolExecutor(len(self.hubs) or 1) as pool:
            list(pool.map(Child.stop, self.hubs))
        with ThreadPoolExecutor(len(self.simulators) or 1) as pool:
            list(pool.map(Child.stop, self.simulators.values()))

    def remove(self) -> None:
        """Stop whatever runs, whatever state it is in, and delete the folder if this cluster made it."""
        try:
            self.stop()
        finally:
            try:
                self.rabbit.remove()
            finally:
                self.postgres.remove()
                if self._own_folder:
                    shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.remove()
