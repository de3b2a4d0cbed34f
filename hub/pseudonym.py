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
from collections.abc import Callable
from pathlib import Path

from hub.keys import read_or_create_key

PERSON_CODE = re.compile(r"(?<![0-9])[0-3][0-9]{5}-?[0-9]{5}(?![0-9])")
# Identifiers the hub writes beside person codes: a message id's, a pseudonym's or a digest's hex may
# hold eleven digits in a row (one UUID in a few hundred), and scrubbing it would change the id.
_IDENTIFIER = (
    r"(?<![0-9A-Za-z-])(?:p-[0-9a-f]{20}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32,})"
    r"(?![0-9A-Za-z])"
)
_IDENTIFIER_OR_CODE = re.compile(rf"(?P<identifier>{_IDENTIFIER})|{PERSON_CODE.pattern}")


def _replace_codes(text: str, replacement: Callable[[str], str]) -> str:
    return _IDENTIFIER_OR_CODE.sub(lambda m: m[0] if m["identifier"] else replacement(m[0]), text)


def mask(text: str) -> str:
    """Person codes replaced by a marker, where no key is at hand."""
    return _replace_codes(text, lambda _: "[person code]")


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must have at least 16 bytes")
        self._key = key

    def __call__(self, person_code: str) -> str:
        digest = hmac.new(self._key, person_code.replace("-", "").encode(), hashlib.sha256).hexdigest()
        return f"p-{digest[:20]}"

    def scrub(self, text: str) -> str:
        """Person codes as pseudonyms; ids and pseudonyms already there (audit details, scrubbed notes) as they are."""
        return _replace_codes(text, self)

    @classmethod
    def from_config(cls, key: str | None, key_file: Path, *, create: bool = True) -> Pseudonymizer:
        """The key given, else the one in `key_file`; made there when missing, if `create`."""
        if key:
            return cls(key.encode())
        settings = "HUB_PSEUDONYM_KEY, or HUB_PSEUDONYM_KEY_FILE to the hub's key file"
        key_bytes = read_or_create_key(
            key_file, lambda: secrets.token_hex(32).encode(), create=create, settings=settings
        )
        return cls(key_bytes.strip())
