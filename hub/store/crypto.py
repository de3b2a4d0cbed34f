"""Encryption at rest for everything the hub keeps about people (payloads in its database, message
bodies on the broker).

Keys come from HUB_STORE_KEYS (Fernet-format keys: 32 random bytes, URL-safe base64), newest
first; older keys still open what they sealed, so rotating means putting a new key in front,
running `hub store rotate-key`, then dropping the old key. Without HUB_STORE_KEYS the hub keeps a
key in HUB_STORE_KEY_FILE (created on first use, mode 0600) so that a restart can still read.

A sealed value is AES-256-GCM (`cryptography`): a version byte, the key's id (the first 8 bytes of
its SHA-256), a random 96-bit nonce, then ciphertext and tag: one pass in C, where Fernet
(AES-CBC, HMAC and base64) takes several passes, and the gateway seals every record and
the workers open every one. Values sealed with Fernet still open. With random nonces a key should
seal well under 2^32 values: rotate yearly.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.keys import read_or_create_key

VERSION = b"\x02"
_ID, _NONCE = 8, 12


class KeyUnavailable(RuntimeError):
    """No configured key opens this value: a key was dropped before rotation finished."""


class Sealer:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._keys = [(hashlib.sha256(k).digest()[:_ID], AESGCM(base64.urlsafe_b64decode(k))) for k in keys]
        self._by_id = dict(self._keys)
        self._fernet = MultiFernet([Fernet(key) for key in keys])  # opens what was sealed before AES-GCM

    def seal(self, data: bytes) -> bytes:
        key_id, cipher = self._keys[0]
        nonce = os.urandom(_NONCE)
        return VERSION + key_id + nonce + cipher.encrypt(nonce, data, None)

    def open(self, token: bytes) -> bytes:
        if token[:1] == VERSION:
            cipher = self._by_id.get(token[1 : 1 + _ID])
            start = 1 + _ID
            try:
                if cipher is not None:
                    return cipher.decrypt(token[start : start + _NONCE], token[start + _NONCE :], None)
            except InvalidTag:
                pass
        elif token[:1] == b"g":  # Fernet's version byte, base64-encoded
            try:
                return self._fernet.decrypt(token)
            except InvalidToken:
                pass
        raise KeyUnavailable("no configured key opens this value")

    def rotate(self, token: bytes) -> bytes:
        """The same value sealed with the newest key."""
        if token[:1] == VERSION and token[1 : 1 + _ID] == self._keys[0][0]:
            return token
        return self.seal(self.open(token))

    @classmethod
    def from_config(cls, keys: str | None, key_file: Path, *, create: bool = True) -> Sealer:
        """The keys given, else the one in `key_file`; made there when missing, if `create`."""
        if keys:
            return cls([k.strip().encode() for k in keys.split(",") if k.strip()])
        settings = "HUB_STORE_KEYS, or HUB_STORE_KEY_FILE to the hub's key file"
        content = read_or_create_key(key_file, Fernet.generate_key, create=create, settings=settings)
        return cls([line.strip() for line in content.splitlines() if line.strip()])
