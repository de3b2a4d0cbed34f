import socket
from pathlib import Path

import httpx
import pytest

from bench import environment
from bench.environment import SIZES, Bench
from hub.simulation.local import free_port


def test_a_simulator_whose_port_another_process_took_starts_again_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The port `free_port()` picked can be taken before the process binds it: the bench must not stop."""
    with socket.socket() as thief:
        thief.bind(("127.0.0.1", 0))
        thief.listen()
        taken = thief.getsockname()[1]
        ports = iter([taken, free_port()])
        monkeypatch.setattr(environment, "free_port", lambda: next(ports))
        bench = Bench("memory://", tmp_path, SIZES["tiny"])
        try:
            endpoint = bench.simulator("vsaa")
            assert f":{taken}/" not in endpoint
            assert httpx.get(endpoint.replace("/soap/vsaa", "/_sim/stats")).status_code == 200
            assert len(bench.processes) == 1
            assert "cannot listen on" in (tmp_path / f"vsaa-{taken}.log").read_text()
        finally:
            bench.stop_all()
