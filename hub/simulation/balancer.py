"""HAProxy in front of the gateway processes, as production runs it: partners see one URL, a
gateway that stops answering `/readyz` is taken out of rotation, and a request whose gateway died
under it is tried on another. Resending a data load is safe: the hub answers the same MessageID
with the same receipt and publishes nothing twice."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import httpx

CONFIG = """\
global
    maxconn 1000
    # a whole request fits the buffer, so a request is retried on another gateway with its body
    tune.bufsize {bufsize}

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout queue 30s
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    option http-buffer-request

frontend partners
    bind 127.0.0.1:{port}
    default_backend gateways

backend gateways
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
{servers}
"""


def render(port: int, gateways: Sequence[str], *, bufsize: int = 1024 * 1024) -> str:
    """HAProxy's configuration: `port` on 127.0.0.1 balanced over `gateways` ("host:port" each)."""
    servers = "\n".join(f"    server gateway-{n} {address} check" for n, address in enumerate(gateways, 1))
    return CONFIG.format(port=port, servers=servers, bufsize=bufsize)


class Balancer:
    """HAProxy running in the foreground as a child process, its configuration in `folder`."""

    def __init__(self, folder: Path, port: int, gateways: Sequence[str]) -> None:
        self.folder = folder
        self.port = port
        self.gateways = list(gateways)
        self.config = folder / "haproxy.cfg"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Balancer:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise FileNotFoundError("haproxy not found: install it (Debian's haproxy package)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render(self.port, self.gateways), encoding="utf-8")
        check = subprocess.run([binary, "-c", "-q", "-f", str(self.config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refuses its configuration: {check.stderr.strip()}")
        log = (self.folder / "haproxy.log").open("wb")
        self.process = subprocess.Popen([binary, "-db", "-f", str(self.config)], stdout=log, stderr=log)
        log.close()
        return self

    def answers(self) -> bool:
        """Whether a request through the balancer reaches a gateway that is ready."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
