"""Key files the hub creates for itself when no key comes from the environment (store sealing,
pseudonyms): fine for one machine, never for production, which sets the keys explicitly."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def read_or_create_key(path: Path, make: Callable[[], bytes]) -> bytes:
    """The key in `path`, created (mode 0600) when missing. Processes starting together on a shared
    volume agree on one key: it is written aside, then linked into place, which only one can do."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(make())
        try:
            os.link(aside, path)
            log.warning("created a key; set it from the environment in production", extra={"key_file": str(path)})
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path.read_bytes()
