"""RabbitMQ nodes a caller owns, like testcontainers without Docker: each node has its own name, ports,
cookie and folders, so a test or the development topology may stop, kill, pause or restart it without
touching the machine's broker (which others use, and which must never be stopped by us).

Development only: the production image does not ship `hub.simulation`."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlsplit, urlunsplit

from kombu import Connection

from hub.simulation.local import free_port, wait_until

SCRIPTS = Path(os.environ.get("HUB_RABBITMQ_SCRIPTS", "/usr/lib/rabbitmq/bin"))
"""The real RabbitMQ scripts: Debian's /usr/sbin ones are wrappers that switch to the rabbitmq user and
its cookie, which our own folders and cookie would not suit."""

OPEN_FILES = 16384
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0
MARKER = "HUB_RABBIT_NODE_HOME"
"""Set in each node's environment, so leftovers of a node (even of a test run that died) are found."""

_LIVE: set[RabbitNode] = set()
_LIVE_LOCK = threading.Lock()


class RabbitNodeError(RuntimeError):
    pass


def _scripts(name: str) -> str:
    path = SCRIPTS / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise RabbitNodeError(f"{name} not found in {SCRIPTS} or on PATH (install the rabbitmq-server package)")
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return state.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class RabbitNode:
    """One RabbitMQ node under `base/<short name>`, with the guest user on loopback."""

    def __init__(
        self,
        base: Path,
        name: str | None = None,
        *,
        plugins: Sequence[str] = (),
        cookie: str | None = None,
        open_files: int = OPEN_FILES,
        host: str = "localhost",
    ) -> None:
        self.short_name = name or f"hubtest-{secrets.token_hex(4)}-1"
        self.name = f"{self.short_name}@{host}"
        self.home = Path(base).resolve() / self.short_name
        self.plugins = tuple(plugins)
        self.cookie = cookie or secrets.token_hex(16).upper()
        self.open_files = open_files
        self.port = free_port()
        self.dist_port = free_port()
        self.prometheus_port = free_port() if "rabbitmq_prometheus" in self.plugins else None
        self.management_port = free_port() if "rabbitmq_management" in self.plugins else None
        self._process: subprocess.Popen[bytes] | None = None
        self._beam: int | None = None
        self.paused = False

    def __repr__(self) -> str:
        return f"RabbitNode({self.name}, port={self.port})"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_file(self) -> Path:
        return self.home / "log" / f"{self.name}.log"

    # Folders and environment

    def _prepare(self) -> None:
        for folder in ("mnesia", "log", "config"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        lines = [
            f"listeners.tcp.1 = 127.0.0.1:{self.port}",
            "log.file.level = info",
            "log.console = false",
        ]
        if self.prometheus_port:
            lines += ["prometheus.tcp.ip = 127.0.0.1", f"prometheus.tcp.port = {self.prometheus_port}"]
        if self.management_port:
            lines += ["management.tcp.ip = 127.0.0.1", f"management.tcp.port = {self.management_port}"]
        (self.home / "config" / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        (self.home / "config" / "enabled_plugins").write_text(f"[{','.join(self.plugins)}].\n")
        (self.home / "config" / "rabbitmq-env.conf").write_text("")

    def _env(self) -> dict[str, str]:
        """No RabbitMQ or Erlang variable of the caller leaks in; the machine's /etc/rabbitmq is not read."""
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_", "HUB_")) and k != "HOME"
        }
        config = self.home / "config"
        return {
            **inherited,
            "HOME": str(self.home),
            MARKER: str(self.home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(config / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(config / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(config / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(config / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_PID_FILE": str(self.home / "beam.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_CRASH_DUMP": str(self.home / "erl_crash.dump"),
        }

    # Life cycle

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start the node (again, with the same data and ports) and return once it accepts clients."""
        if self.running:
            return self
        self._prepare()
        (self.home / "beam.pid").unlink(missing_ok=True)
        with _LIVE_LOCK:
            _LIVE.add(self)
        with (self.home / "log" / "console.log").open("ab") as console:
            self._process = subprocess.Popen(
                [
                    "/bin/sh",
                    "-c",
                    'ulimit -n "$1" && exec "$2"',
                    "sh",
                    str(self.open_files),
                    _scripts("rabbitmq-server"),
                ],
                cwd=self.home,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._beam = None
        self.paused = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RabbitNodeError(f"{self.name} exited with {self._process.returncode}:\n{self.log_tail()}")
            left = max(1, int(deadline - time.monotonic()))
            done = self._run_ctl(["await_startup", "--timeout", str(left)], timeout=left + 30)
            if done.returncode == 0:
                self._beam = self._read_pid()
                return self
            time.sleep(0.5)
        self._kill_all()
        raise RabbitNodeError(f"{self.name} did not start within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop gracefully (the node leaves its queues in order); kill it if that does not finish."""
        if not self.running:
            return
        self.resume()
        self._run_ctl(["stop"], timeout=timeout)
        assert self._process is not None
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_all()
        self._beam = None

    def kill(self) -> None:
        """SIGKILL the Erlang VM: a crash, nothing flushed or said goodbye to."""
        if not self.running:
            return
        pid = self.beam_pid()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        assert self._process is not None
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._kill_all()
        self._beam = None
        self.paused = False

    def restart(self, timeout: float = START_TIMEOUT) -> Self:
        """Stop (if running) and start again with the same name, ports and data."""
        self.stop()
        return self.start(timeout)

    def pause(self) -> None:
        """SIGSTOP the VM: to its peers and clients it stops answering, as behind a partition."""
        os.kill(self.beam_pid(), signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self._beam is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._beam, signal.SIGCONT)
        self.paused = False

    def remove(self) -> None:
        """Stop whatever of this node runs, leftovers included, and delete its folders."""
        try:
            if self.running:
                self.resume()
                self._run_ctl(["stop"], timeout=20)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    assert self._process is not None
                    self._process.wait(timeout=20)
        finally:
            self._kill_all()
            shutil.rmtree(self.home, ignore_errors=True)
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()

    # What runs

    def beam_pid(self) -> int:
        """The OS process of the Erlang VM (the launch shell's child), from the pid file the node writes."""
        if self._beam is None or not _alive(self._beam):
            self._beam = self._read_pid()
        if self._beam is None:
            raise RabbitNodeError(f"{self.name} is not running")
        return self._beam

    def _read_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.home / "beam.pid").read_text().strip())
        if self.running:
            done = self._run_ctl(["eval", "os:getpid()."], timeout=30)
            with contextlib.suppress(ValueError):
                return int(done.stdout.strip().strip('"'))
        return None

    def _leftovers(self) -> list[int]:
        """Processes started for this node (their environment carries its folder), whoever started them."""
        mark = f"{MARKER}={self.home}".encode()
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                if mark in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
        return [pid for pid in found if pid != os.getpid()]

    def _kill_all(self) -> None:
        pids = set(self._leftovers())
        if self._beam is not None:
            pids.add(self._beam)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._beam = None
        self.paused = False

    # Commands

    def _ctl_env(self) -> dict[str, str]:
        env = self._env()
        del env[MARKER]
        return env

    def _run_ctl(
        self, args: Sequence[str], *, tool: str = "rabbitmqctl", timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [_scripts(tool), "-n", self.name, *args],
                env=self._ctl_env(),
                cwd=self.home,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out after {timeout} s")

    def ctl(self, *args: str, tool: str = "rabbitmqctl", timeout: float = 60) -> str:
        """`rabbitmqctl -n <this node> args` (or `rabbitmq-queues`, `rabbitmq-diagnostics`...); its output."""
        done = self._run_ctl(args, tool=tool, timeout=timeout)
        if done.returncode != 0:
            raise RabbitNodeError(f"{tool} {' '.join(args)} on {self.name}: {done.stderr or done.stdout}")
        return done.stdout

    def log_tail(self, lines: int = 40) -> str:
        tails = []
        for log in (self.home / "log" / "console.log", self.log_file):
            if log.exists():
                tails.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(tails) or "(no log)"


class RabbitCluster:
    """`size` nodes joined into one cluster, started side by side; node 1 is the one the others join."""

    def __init__(
        self, size: int = 3, base: Path | None = None, *, plugins: Sequence[str] = (), prefix: str | None = None
    ) -> None:
        if base is None:
            raise ValueError("a base folder is required")
        prefix = prefix or f"hubtest-{secrets.token_hex(4)}"
        cookie = secrets.token_hex(16).upper()
        self.nodes = [RabbitNode(base, f"{prefix}-{i}", plugins=plugins, cookie=cookie) for i in range(1, size + 1)]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The hub's form for several brokers (HUB_BROKER_URL): the nodes' URLs joined by `;`."""
        return ";".join(self.urls)

    def start(self) -> Self:
        """Every node boots at once; each joins node 1 as soon as it is up, one join at a time (joins
        change the cluster's schema, which concurrent joins would race on)."""
        seed = self.nodes[0]
        joining = threading.Lock()
        seed_up = threading.Event()

        def up(node: RabbitNode) -> None:
            try:
                node.start()
            finally:
                if node is seed:
                    seed_up.set()
            if node is seed:
                return
            if not seed_up.wait(START_TIMEOUT) or not seed.running:
                raise RabbitNodeError(f"{seed.name} did not start, so {node.name} has nothing to join")
            with joining:
                node.ctl("stop_app")
                node.ctl("join_cluster", seed.name)
                node.ctl("start_app")

        _each(self.nodes, up)
        seed.ctl("await_online_nodes", str(len(self.nodes)))
        return self

    def running_nodes(self) -> list[str]:
        status = json.loads(self.nodes[0].ctl("cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def leader_of(self, queue: str, vhost: str = "/") -> RabbitNode:
        """The node leading a quorum queue now."""
        for node in self.nodes:
            if node.running and not node.paused:
                listed = json.loads(node.ctl("list_queues", "-p", vhost, "name", "leader", "--formatter", "json"))
                break
        else:
            raise RabbitNodeError("no node of the cluster is up")
        for row in listed:
            if row["name"] == queue:
                return self.node(row["leader"])
        raise RabbitNodeError(f"no queue {queue!r} in vhost {vhost!r}")

    def node(self, name: str) -> RabbitNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def rolling_restart(self, timeout: float = 120) -> None:
        """Restart one node after the other, each once no quorum queue would lose its majority without it."""
        for node in self.nodes:
            wait_until(
                lambda node=node: (
                    node._run_ctl(["check_if_node_is_quorum_critical"], tool="rabbitmq-queues", timeout=60).returncode
                    == 0
                ),
                timeout,
                f"{node.name} did not stop being quorum critical",
                every=1,
            )
            node.restart()
        self.nodes[0].ctl("await_online_nodes", str(len(self.nodes)))

    def remove(self) -> None:
        _each(self.nodes, RabbitNode.remove)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.remove()

    def __iter__(self) -> Iterator[RabbitNode]:
        return iter(self.nodes)


def _each(nodes: Sequence[RabbitNode], action: Callable[[RabbitNode], object]) -> None:
    """Run `action` on every node side by side; the first error is raised once all have finished."""
    with ThreadPoolExecutor(len(nodes) or 1) as pool:
        futures = [pool.submit(action, node) for node in nodes]
    for future in futures:
        future.result()


def machine_ctl(*args: str, timeout: float = 60) -> str:
    """`rabbitmqctl` against the machine's own broker, with whatever node and cookie its installation sets."""
    try:
        done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RabbitNodeError(f"rabbitmqctl {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise RabbitNodeError(f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


def in_vhost(url: str, vhost: str) -> str:
    """`url` with its virtual host replaced."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def delete_broker_objects(amqp_url: str, prefix: str, ctl: Callable[..., str] = machine_ctl) -> None:
    """Delete what a test or a benchmark run made on a shared broker, in every virtual host: the vhosts
    named with its prefix, and elsewhere its queues and exchanges (rabbitmqctl lists them, AMQP cannot).
    Best effort: a broker that does not answer keeps them."""

    def listed(*args: str) -> list[str]:
        out = ctl(*args, "--formatter", "json")
        return [row["name"] for row in json.loads(out[out.find("[") :] if "[" in out else "[]")]

    try:
        vhosts = listed("list_vhosts", "name")
        for vhost in vhosts:
            if vhost.startswith(prefix):
                ctl("delete_vhost", vhost)
        with ThreadPoolExecutor(4) as pool:
            found = {
                vhost: (
                    pool.submit(listed, "list_queues", "-p", vhost, "name"),
                    pool.submit(listed, "list_exchanges", "-p", vhost, "name"),
                )
                for vhost in vhosts
                if not vhost.startswith(prefix)
            }
            names = {
                vhost: (
                    [n for n in q.result() if n.startswith(prefix)],
                    [n for n in x.result() if n.startswith(prefix)],
                )
                for vhost, (q, x) in found.items()
            }
    except (RabbitNodeError, ValueError):
        return
    for vhost, (queues, exchanges) in names.items():
        if not queues and not exchanges:
            continue
        with Connection(in_vhost(amqp_url.split(";")[0], vhost)) as connection:
            channel = connection.channel()
            for queue in queues:
                channel.queue_delete(queue)
            for exchange in exchanges:
                channel.exchange_delete(exchange)


@atexit.register
def _remove_forgotten() -> None:
    """A backstop: nodes nobody removed (an interrupted run) go when the process exits."""
    with _LIVE_LOCK:
        forgotten = list(_LIVE)
    for node in forgotten:
        with contextlib.suppress(Exception):
            node.remove()
