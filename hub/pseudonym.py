"""Person codes as pseudonyms: a keyed hash (HMAC-SHA256), stable for the same key, so the audit can
say "the same person was asked about twice" without saying who. Never reversible without the key
and the code; the key comes from HUB_PSEUDONYM_KEY or a key file the hub creates."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from hub.keys import read_or_create_key


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must have at least 16 bytes")
        self._key = key

    def __call__(self, person_code: str) -> str:
        digest = hmac.new(self._key, person_code.replace("-", "").encode(), hashlib.sha256).hexdigest()
        return f"p-{digest[:20]}"

    @classmethod
    def from_config(cls, key: str | None, key_file: Path) -> Pseudonymizer:
        if key:
            return cls(key.encode())
        return cls(read_or_create_key(key_file, lambda: secrets.token_hex(32).encode()).strip())
