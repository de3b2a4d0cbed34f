"""Brokers in tests: RabbitMQ nodes a test owns (and may stop, kill or pause), and the watch on the
machine's broker that holds `make test` to its promise never to stop a broker it did not start."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kombu import Connection

from hub.simulation.rabbit_nodes import SCRIPTS, RabbitCluster, RabbitNode, RabbitNodeError, machine_ctl
from tests.helpers import missing

Owned = TypeVar("Owned", RabbitNode, RabbitCluster)


def started(owned: Owned) -> Owned:
    """`owned` started; if it cannot start, the test skips, or fails under CI=true."""
    if not (SCRIPTS / "rabbitmq-server").exists() and shutil.which("rabbitmq-server") is None:
        missing("RabbitMQ is not installed (Debian's rabbitmq-server package)")
    try:
        owned.start()
    except BaseException as exc:
        owned.remove()
        if isinstance(exc, RabbitNodeError):
            missing(f"a RabbitMQ node of the test's own did not start: {exc}")
        raise
    return owned


class BrokerWatch:
    """Notices a broker's stop, restart or `stop_app`: it holds one idle AMQP connection open (any of
    those closes it) and notes the VM's OS pid. Cheap: one connection, two rabbitmqctl calls."""

    def __init__(self, url: str, ctl: Callable[..., str] = machine_ctl) -> None:
        self._ctl = ctl
        self.pid = self._pid()
        self._connection = Connection(url, heartbeat=0, connect_timeout=5)
        self._channel = self._connection.channel()

    def _pid(self) -> str:
        return self._ctl("eval", "os:getpid().").strip().splitlines()[-1].strip('"')

    def broken(self) -> str | None:
        """What happened to the broker since the watch began, or None if it ran all along."""
        try:
            self._channel.exchange_declare("amq.direct", "direct", durable=True, passive=True)
            connection_held = True
        except Exception:
            connection_held = False
        finally:
            self._connection.release()
        try:
            pid = self._pid()
        except RabbitNodeError as exc:
            return f"the broker does not answer rabbitmqctl: {exc}"
        if pid != self.pid:
            return f"the broker was restarted (OS pid {self.pid}, now {pid})"
        if not connection_held:
            return "the broker closed every connection (stopped and started, or stop_app and start_app)"
        return None


def no_beam_left(folder: Path) -> bool:
    """No process runs for a node whose folders were under `folder`."""
    mark = f"HUB_RABBIT_NODE_HOME={folder.resolve()}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if any(part.startswith(mark) for part in environ.split(b"\0")):
            return False
    return True
