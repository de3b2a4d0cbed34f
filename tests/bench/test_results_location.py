"""The benchmark writes its tables outside what git tracks: figures live in its output, not in the repository."""

from __future__ import annotations

import subprocess

from bench.__main__ import RESULTS
from hub.settings import PROJECT_ROOT


def test_results_go_where_git_ignores_them():
    sample = RESULTS / "20260101T000000-full.md"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(sample)], cwd=PROJECT_ROOT)
    assert ignored.returncode == 0, f"{sample} would be tracked"
    assert not (PROJECT_ROOT / "bench" / "results").exists()
