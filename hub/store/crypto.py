"""Encryption at rest for everything the hub stores about people (payloads, original XML).

Fernet keys (AES-128-CBC with HMAC-SHA256, from `cryptography`) come from HUB_STORE_KEYS, newest
first; older keys still open what they sealed, so rotating means putting a new key in front,
running `hub store rotate-key`, then dropping the old key. Without HUB_STORE_KEYS the hub keeps a
key in HUB_STORE_KEY_FILE (created on first use, mode 0600) so that a restart can still read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.keys import read_or_create_key


class KeyUnavailable(RuntimeError):
    """No configured key opens this value: a key was dropped before rotation finished."""


class Sealer:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise KeyUnavailable("no configured key opens this value") from None

    def rotate(self, token: bytes) -> bytes:
        """The same value sealed with the newest key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise KeyUnavailable("no configured key opens this value") from None

    @classmethod
    def from_config(cls, keys: str | None, key_file: Path) -> Sealer:
        if keys:
            return cls([k.strip().encode() for k in keys.split(",") if k.strip()])
        content = read_or_create_key(key_file, Fernet.generate_key)
        return cls([line.strip() for line in content.splitlines() if line.strip()])
