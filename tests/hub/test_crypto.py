"""Sealed values open only with a configured key, survive a rotation, and betray any change."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hub.store.crypto import KeyUnavailable, Sealer


def test_a_sealed_value_opens_with_its_key_and_only_with_it():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = Sealer([old]).seal(b"010180-10006 GMI 311.88")
    assert b"010180" not in sealed and Sealer([old]).open(sealed) == b"010180-10006 GMI 311.88"
    assert Sealer([new, old]).open(sealed) == b"010180-10006 GMI 311.88"
    with pytest.raises(KeyUnavailable):
        Sealer([new]).open(sealed)
    for position in (0, 3, 15, 30, len(sealed) - 1):  # version, key id, nonce, ciphertext, tag
        changed = bytearray(sealed)
        changed[position] ^= 1
        with pytest.raises(KeyUnavailable):
            Sealer([old]).open(bytes(changed))


def test_rotation_reseals_with_the_newest_key_and_values_sealed_with_fernet_still_open():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    both = Sealer([new, old])
    rotated = both.rotate(Sealer([old]).seal(b"payload"))
    assert Sealer([new]).open(rotated) == b"payload" and both.rotate(rotated) == rotated
    legacy = Fernet(old).encrypt(b"sealed before AES-GCM")
    assert both.open(legacy) == b"sealed before AES-GCM"
    assert Sealer([new]).open(both.rotate(legacy)) == b"sealed before AES-GCM"
