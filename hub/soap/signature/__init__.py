"""The hub's WS-Security signature profile: signing, verifying, and the certificates pinned per system.

The profile (SECURITY.md states it whole): `wsse:Security` in `soap:Header` holds a `wsu:Timestamp`
and one detached `ds:Signature` over the Body, the VISS `vh:MessageHeader` and the Timestamp, by
wsu:Id; exclusive C14N; RSA or ECDSA with SHA-256/384/512; the signer's certificate pinned for the
system it speaks for.
"""

from hub.soap.signature.profile import WSU_ID
from hub.soap.signature.signer import Signer
from hub.soap.signature.trust import TrustedCertificates, fingerprint
from hub.soap.signature.verifier import SignatureVerifier

__all__ = ["WSU_ID", "SignatureVerifier", "Signer", "TrustedCertificates", "fingerprint"]
