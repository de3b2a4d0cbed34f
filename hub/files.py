"""Files that say who asked about whom (the database, the audit checkpoints): the hub's user's alone.
They are created 0600 in folders created 0700; files and folders that exist keep their mode."""

from __future__ import annotations

import os
from pathlib import Path


def make_private_folder(path: Path) -> None:
    """`path` and its missing parents, each 0700 (`Path.mkdir(parents=True)` gives parents the umask's mode)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first
            pass


def create_private_file(path: Path) -> bool:
    """An empty `path`, mode 0600, unless it exists; True when this call created it."""
    make_private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def append_line(path: Path, line: str) -> None:
    """One write with O_APPEND, so lines appended by several processes never interleave."""
    make_private_folder(path.parent)
    data = (line.rstrip("\n") + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.write(descriptor, data) != len(data):
            raise OSError(f"a short write to {path}: the disk may be full")
    finally:
        os.close(descriptor)
