"""Run a simulator's HTTP app until SIGINT or SIGTERM (`hub simulate <system>`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from starlette.types import ASGIApp

from hub.http_server import ServerThread


def serve_forever(
    app: ASGIApp, host: str, port: int, title: str, path: str, *, on_stop: Callable[[], None] | None = None
) -> int:
    server = ServerThread(app, host, port, name=title).start()
    print(f"{title} on {server.url}{path} (WSDL at ?wsdl)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    if on_stop is not None:
        on_stop()
    return 0
