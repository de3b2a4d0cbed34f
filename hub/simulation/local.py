"""What the development tools that run local processes share: a free port, and a wait on a condition."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

_RABBITMQ_CLI_PORTS = range(35600, 35800)  # the RabbitMQ CLI tools' own distribution ports (35672 and ten more)


def free_port() -> int:
    """A loopback port free now, away from the range RabbitMQ's CLI tools take for themselves."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _RABBITMQ_CLI_PORTS:
            return port


def wait_until(condition: Callable[[], bool], timeout: float, what: str, *, every: float = 0.1) -> None:
    """Poll `condition` every `every` seconds; TimeoutError naming `what` once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f} s")
        time.sleep(every)
