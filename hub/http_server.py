"""uvicorn in a thread, on a socket bound before start so port 0 gives a known free port."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp


def schema_files_route(schemas_dir: Path) -> Route:
    """GET /schemas/<path>: the XSDs and WSDLs under `schemas_dir`, nothing outside it."""
    root = schemas_dir.resolve()

    async def schema_file(request: Request) -> Response:
        path = (root / request.path_params["path"]).resolve()
        if not path.is_relative_to(root) or path.suffix not in (".xsd", ".wsdl") or not path.is_file():
            return PlainTextResponse("not found\n", status_code=404)
        return Response(path.read_bytes(), media_type="text/xml; charset=utf-8")

    return Route("/schemas/{path:path}", schema_file, methods=["GET"])


class CannotListen(OSError):
    """The address is taken by another process, not this machine's, or not ours to use."""


class ServerThread:
    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, name: str = "http") -> None:
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        self.host, self.port = host, self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # h11, not httptools: uvicorn's httptools protocol hands the app an empty body when a client
            # offers to upgrade to HTTP/2 (the JDK's HttpClient does, over http://; uvicorn#2722)
            http="h11",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=10,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()
