"""Person codes as pseudonyms: a keyed hash (HMAC-SHA256), stable for the same key, so the audit can
say "the same person was asked about twice" without saying who. Never reversible without the key
and the code; the key comes from HUB_PSEUDONYM_KEY or a key file the hub creates.

`scrub` is the last guard wherever free text leaves the hub's control (log lines, reasons a target
gave, operators' notes): anything shaped like a person code becomes its pseudonym."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

from hub.keys import read_or_create_key

PERSON_CODE = re.compile(r"(?<![0-9])[0-3][0-9]{5}-?[0-9]{5}(?![0-9])")
# A pseudonym's hex may hold eleven digits in a row; scrubbing it again would change it.
_PSEUDONYM_OR_CODE = re.compile(rf"(?<![0-9a-z-])p-[0-9a-f]{{20}}(?![0-9a-f])|{PERSON_CODE.pattern}")


def mask(text: str) -> str:
    """Person codes replaced by a marker, where no key is at hand."""
    return PERSON_CODE.sub("[person code]", text)


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must have at least 16 bytes")
        self._key = key

    def __call__(self, person_code: str) -> str:
        digest = hmac.new(self._key, person_code.replace("-", "").encode(), hashlib.sha256).hexdigest()
        return f"p-{digest[:20]}"

    def scrub(self, text: str) -> str:
        """Person codes as pseudonyms; pseudonyms already there (audit details, scrubbed notes) as they are."""
        return _PSEUDONYM_OR_CODE.sub(lambda m: m[0] if m[0].startswith("p-") else self(m[0]), text)

    @classmethod
    def from_config(cls, key: str | None, key_file: Path) -> Pseudonymizer:
        if key:
            return cls(key.encode())
        return cls(read_or_create_key(key_file, lambda: secrets.token_hex(32).encode()).strip())
