"""Files the hub generates from its code and configuration (WSDLs, the Grafana dashboard) and keeps
committed: written only when they change, and checked by `--check` commands and tests."""

from __future__ import annotations

from pathlib import Path


def is_current(path: Path, content: bytes) -> bool:
    return path.exists() and path.read_bytes() == content


def write_if_changed(path: Path, content: bytes) -> bool:
    if is_current(path, content):
        return False
    path.write_bytes(content)
    return True
