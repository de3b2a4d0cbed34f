"""Key files the hub creates for itself when no key comes from the environment (store sealing,
pseudonyms): fine for one machine, never for production, which sets the keys explicitly."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from hub.errors import ConfigurationError

log = logging.getLogger(__name__)


class KeyMissing(ConfigurationError):
    """A key file is not there and may not be made here: a command that opens the hub's store must use
    the hub's keys, since a new key would open nothing it sealed and sign entries the trail rejects."""


def read_or_create_key(path: Path, make: Callable[[], bytes], *, create: bool = True, settings: str = "") -> bytes:
    """The key in `path`, created (mode 0600) when missing; with `create` False a missing file is
    refused, naming `settings` (where the key can come from instead). Processes starting together on a
    shared volume agree on one key: it is written aside, then linked into place, which only one can do."""
    if not path.exists():
        if not create:
            raise KeyMissing(f"no key at {path.absolute()}: set {settings}")
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
