"""Where simulators find keys: `--pki DIR` (default var/pki, what `hub pki dev` writes). A partner's
simulator signs what it sends the hub with DIR/<system>.key; a target's simulator demands the hub's
signature on every call once DIR/hub.pem exists, as the real state systems would."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.settings import DEV_PKI_DIR
from hub.soap.signature import SignatureVerifier, Signer, TrustedCertificates


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pki", type=Path, default=DEV_PKI_DIR, help="folder of keys and certificates (`hub pki dev` makes one)"
    )


def signer_for(system: str, directory: Path) -> Signer | None:
    key, cert = directory / f"{system}.key", directory / f"{system}.pem"
    return Signer.from_files(key, cert) if key.is_file() and cert.is_file() else None


def hub_verifier(directory: Path) -> SignatureVerifier | None:
    """Checks that calls come from the hub, when the hub's certificate is in `directory`."""
    return (
        SignatureVerifier(TrustedCertificates.from_dir(directory, ["hub"]))
        if (directory / "hub.pem").is_file()
        else None
    )
