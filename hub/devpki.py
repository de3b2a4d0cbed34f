"""`hub pki dev`: self-signed keys and certificates for the hub and every partner system, so that a
development machine, the demo, the tests and docker-compose run with signatures required, as
production does. Never for production: there, each partner's certificate comes from its own CA
and the hub's key from the ministry's, and only certificates (never partners' keys) reach the hub.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def issue(name: str, *, days: int = 365, now: dt.datetime | None = None, kind: str = "rsa") -> tuple[bytes, bytes]:
    """A new key (RSA-2048, or EC P-256 with `kind="ec"`) and a self-signed certificate whose common
    name is `name`, both PEM."""
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "welfare-hub development (not for production)"),
        ]
    )
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def create(directory: Path, names: Iterable[str], *, days: int = 365) -> list[str]:
    """`<name>.key` (mode 0600) and `<name>.pem` for each name that has none yet; the names made."""
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names:
        key_path, cert_path = directory / f"{name}.key", directory / f"{name}.pem"
        if key_path.exists() and cert_path.exists():
            continue
        key_pem, cert_pem = issue(name, days=days)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key_pem)
        cert_path.write_bytes(cert_pem)
        made.append(name)
    return made
