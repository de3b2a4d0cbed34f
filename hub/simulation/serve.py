"""Run a simulator's HTTP app until SIGINT or SIGTERM (`hub simulate <system>`), and the help of the
options the simulators share."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable

from starlette.types import ASGIApp

from hub.exits import UNAVAILABLE, CommandFailed
from hub.http_server import CannotListen, ServerThread


def serve_forever(
    app: ASGIApp, host: str, port: int, title: str, path: str, *, on_stop: Callable[[], None] | None = None
) -> int:
    try:
        server = ServerThread(app, host, port, name=title).start()
    except CannotListen as exc:
        raise CommandFailed(f"{exc}: choose another port with --port", UNAVAILABLE) from exc
    print(f"{title} on {server.url}{path} (WSDL at ?wsdl); in the foreground until Ctrl-C or SIGTERM", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    if on_stop is not None:
        on_stop()
    return 0


SHARED_OPTIONS = {
    "--host": "address to listen on",
    "--port": "port to listen on",
    "--db": "the simulator's own store (SQLite)",
    "--latency-ms": "milliseconds added to every answer",
    "--fault-rate": "share of calls answered with a SOAP Server fault (0 to 1)",
    "--timeout-rate": "share of calls answered too late (0 to 1)",
    "--records": "how many records to send",
    "--seed": "random seed, for the same data every run (default: a new one each run)",
}


def describe_shared_options(parser: argparse.ArgumentParser) -> None:
    """Options the simulators share get their help here when a simulator gives none."""
    for action in parser._actions:
        if action.help is None and action.option_strings:
            action.help = SHARED_OPTIONS.get(action.option_strings[-1])
