"""Certificates pinned per system: whoever signs with one of a system's certificates is it.

A signature may name its certificate instead of carrying it (issuer and serial, subject key
identifier, SHA-1 thumbprint); each is only a way to find a pinned certificate, never a reason to
trust one that is not pinned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def subject_key_identifier(cert: x509.Certificate) -> bytes:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def distinguished_name(text: str) -> frozenset[str]:
    """A name as RFC 4514 / 2253 text, compared as its set of `TYPE=value` parts: stacks differ in
    spacing and order, and in the case of the attribute types."""
    parts, current, escaped = [], "", False
    for char in text:
        if char == "," and not escaped:
            parts.append(current)
            current = ""
            continue
        escaped = char == "\\" and not escaped
        current += char
    parts.append(current)
    normalized = set()
    for part in parts:
        name, _, value = part.partition("=")
        name = {"E": "EMAILADDRESS", "S": "ST"}.get(name.strip().upper(), name.strip().upper())
        normalized.add(f"{name}={value.strip()}")
    return frozenset(normalized)


@dataclass(frozen=True)
class TrustedCertificates:
    by_fingerprint: Mapping[str, tuple[str, x509.Certificate]]
    _by_issuer_serial: dict[tuple[frozenset[str], int], str] = field(init=False, repr=False, compare=False)
    _by_ski: dict[bytes, str] = field(init=False, repr=False, compare=False)
    _by_thumbprint: dict[bytes, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        issuer_serial, ski, thumbprint = {}, {}, {}
        for key, (_, cert) in self.by_fingerprint.items():
            issuer_serial[(distinguished_name(cert.issuer.rfc4514_string()), cert.serial_number)] = key
            ski[subject_key_identifier(cert)] = key
            thumbprint[hashlib.sha1(cert.public_bytes(Encoding.DER), usedforsecurity=False).digest()] = key
        object.__setattr__(self, "_by_issuer_serial", issuer_serial)
        object.__setattr__(self, "_by_ski", ski)
        object.__setattr__(self, "_by_thumbprint", thumbprint)

    @classmethod
    def of(cls, certificates: Mapping[str, Sequence[x509.Certificate]]) -> TrustedCertificates:
        return cls({fingerprint(c): (system, c) for system, certs in certificates.items() for c in certs})

    @classmethod
    def from_dir(cls, directory: Path, systems: Iterable[str]) -> TrustedCertificates:
        """`<system>.pem` or `<system>.<label>.pem` files (several for a rotation); other files are
        not read, so the hub's own key may share a development folder."""
        known = set(systems)
        found: dict[str, list[x509.Certificate]] = {}
        for path in sorted(directory.glob("*.pem")) if directory.is_dir() else []:
            system = path.name.split(".", 1)[0]
            if system in known:
                found.setdefault(system, []).extend(x509.load_pem_x509_certificates(path.read_bytes()))
        return cls.of(found)

    def systems(self) -> set[str]:
        return {system for system, _ in self.by_fingerprint.values()}

    def pinned(self, cert: x509.Certificate) -> tuple[str, x509.Certificate] | None:
        return self.by_fingerprint.get(fingerprint(cert))

    def by_issuer_serial(self, issuer: str, serial: int) -> tuple[str, x509.Certificate] | None:
        key = self._by_issuer_serial.get((distinguished_name(issuer), serial))
        return self.by_fingerprint[key] if key else None

    def by_subject_key_identifier(self, value: bytes) -> tuple[str, x509.Certificate] | None:
        key = self._by_ski.get(value)
        return self.by_fingerprint[key] if key else None

    def by_thumbprint(self, value: bytes) -> tuple[str, x509.Certificate] | None:
        key = self._by_thumbprint.get(value)
        return self.by_fingerprint[key] if key else None
