"""What a newcomer sees first: a demo that does not warn about its own throwaway keys, a hub that
says how it runs, and simulators that print the receipt ids `hub status` takes."""

from __future__ import annotations

import subprocess
import sys

from hub.settings import PROJECT_ROOT, without_hub_variables
from hub.simulation.client import Submitted
from hub.simulation.municipal import print_receipt


def test_the_demo_opens_without_warnings(tmp_path):
    env = without_hub_variables()
    done = subprocess.run(
        [sys.executable, "-m", "hub", "demo", "--records", "30", "--batch-size", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(PROJECT_ROOT), "HUB_BROKER_URL": "memory://"},
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr.lower(), done.stderr
    assert not (tmp_path / "var").exists()  # nothing left behind: keys and store were the demo's own


def test_a_simulator_prints_each_receipt_id(capsys):
    print_receipt(Submitted("e9ff96b9-35ff-4df7-a8c0-42394d4088a0", 100))
    assert capsys.readouterr().out == "receipt e9ff96b9-35ff-4df7-a8c0-42394d4088a0 records=100\n"
