import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bench import environment
from bench.environment import SIZES, Bench
from bench.stages import start_sink
from hub.simulation.local import free_port


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port `free_port()` picks first, though another process took it before the bind."""
    with socket.socket() as thief:
        thief.bind(("127.0.0.1", 0))
        thief.listen()
        taken = thief.getsockname()[1]
        ports = iter([taken, free_port()])
        monkeypatch.setattr(environment, "free_port", lambda: next(ports))
        yield taken


@pytest.mark.parametrize(
    ("start", "answer"),
    [
        (lambda bench: bench.simulator("vsaa").replace("/soap/vsaa", ""), "/_sim/stats"),
        (start_sink, "/count"),
    ],
    ids=["a simulator", "the sink"],
)
def test_a_process_whose_port_another_took_starts_again_on_another(
    taken_port: int, start: Callable[[Bench], str], answer: str, tmp_path: Path
):
    """The bench must not stop when a port is taken between the look and the bind."""
    bench = Bench("memory://", tmp_path, SIZES["tiny"])
    try:
        base = start(bench)
        assert not base.endswith(f":{taken_port}")
        assert httpx.get(f"{base}{answer}").status_code == 200
        assert len(bench.processes) == 1
        (refused,) = tmp_path.glob(f"*-{taken_port}.log")
        assert "address already in use" in refused.read_text().lower()
    finally:
        bench.stop_all()
