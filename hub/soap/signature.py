"""Who sent a SOAP message, proved by an XML signature over its body, its VISS header and a
timestamp, in a WS-Security header (signxml on lxml and cryptography).

The profile, the same both ways (partners to the hub, the hub to the state systems):

- `wsse:Security` in `soap:Header` holds a `wsu:Timestamp` (`Created`, `Expires`) and a detached
  `ds:Signature`: exclusive C14N, RSA-SHA256 / ECDSA-SHA256 (or SHA-512), SHA-256 digests, exactly
  three references by `wsu:Id`: `soap:Body`, `vh:MessageHeader` and the `wsu:Timestamp`;
- `ds:KeyInfo/ds:X509Data` carries the signer's certificate. A certificate is trusted only when it
  is pinned for a system, and that system is the authenticated sender.

A valid signature over the wrong element proves nothing (signature wrapping), so the verifier also
demands that every `wsu:Id` in the message is unique and that the three references are the very
Body, MessageHeader and Timestamp the hub goes on to read. The timestamp bounds replays.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    VerifyResult,
    XMLSigner,
    XMLVerifier,
)
from signxml import methods as signature_methods
from signxml.exceptions import InvalidInput, InvalidSignature

from hub.errors import Unauthenticated
from hub.soap.envelope import SECURITY, SOAP11_NS, WSSE_NS
from hub.soap.header import VH_NS

WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
TIMESTAMP = f"{{{WSU_NS}}}Timestamp"
WSU_ID = f"{{{WSU_NS}}}Id"
SECURITY_PATH = "Envelope/Header/Security"

ACCEPTED = SignatureConfiguration(
    expect_references=3,
    signature_methods=frozenset(
        {
            SignatureMethod.RSA_SHA256,
            SignatureMethod.RSA_SHA512,
            SignatureMethod.ECDSA_SHA256,
            SignatureMethod.ECDSA_SHA512,
        }
    ),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA512}),
)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parts(envelope: etree._Element) -> tuple[etree._Element | None, etree._Element | None, etree._Element | None]:
    """The soap:Header, the vh:MessageHeader in it, and the soap:Body of an envelope."""
    header = envelope.find(f"{{{SOAP11_NS}}}Header")
    message_header = header.find(f"{{{VH_NS}}}MessageHeader") if header is not None else None
    return header, message_header, envelope.find(f"{{{SOAP11_NS}}}Body")


class Signer:
    """Signs envelopes with one key and its certificate: a partner's, or the hub's own."""

    def __init__(self, key: PrivateKeyTypes, cert: x509.Certificate, *, lifetime_seconds: float = 300.0) -> None:
        self.key = key
        self.cert = cert
        self.lifetime = dt.timedelta(seconds=lifetime_seconds)
        self._signer = XMLSigner(
            method=signature_methods.detached,
            signature_algorithm=SignatureMethod.RSA_SHA256
            if "RSA" in type(key).__name__
            else SignatureMethod.ECDSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> Signer:
        return cls(load_pem_private_key(key_pem, password=None), x509.load_pem_x509_certificate(cert_pem))

    @classmethod
    def from_files(cls, key_file: Path, cert_file: Path) -> Signer:
        return cls.from_pem(key_file.read_bytes(), cert_file.read_bytes())

    def sign(self, envelope: etree._Element, *, now: dt.datetime | None = None) -> etree._Element:
        """Add wsse:Security with a timestamp and the signature to an envelope that has its
        vh:MessageHeader and Body; returns the same envelope."""
        header, message_header, body = _parts(envelope)
        if header is None or message_header is None or body is None:
            raise ValueError("only an envelope with a VISS header and a body can be signed")
        created = now or _now()
        security = etree.Element(SECURITY, nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
        header.insert(0, security)
        timestamp = etree.SubElement(security, TIMESTAMP)
        etree.SubElement(timestamp, f"{{{WSU_NS}}}Created").text = _stamp(created)
        etree.SubElement(timestamp, f"{{{WSU_NS}}}Expires").text = _stamp(created + self.lifetime)
        references = []
        for element, prefix in ((body, "body"), (message_header, "header"), (timestamp, "ts")):
            element.set(WSU_ID, f"{prefix}-{uuid.uuid4()}")
            references.append(f"#{element.get(WSU_ID)}")
        signature = self._signer.sign(
            envelope, key=self.key, cert=[self.cert], reference_uri=references, id_attribute="Id"
        )
        security.append(signature)
        return envelope


@dataclass(frozen=True)
class TrustedCertificates:
    """Certificates pinned per system: whoever signs with one of a system's certificates is it."""

    by_fingerprint: Mapping[str, tuple[str, x509.Certificate]]

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


class SignatureVerifier:
    def __init__(
        self, trusted: TrustedCertificates, *, max_age_seconds: float = 300.0, clock_skew_seconds: float = 60.0
    ) -> None:
        self.trusted = trusted
        self.max_age = dt.timedelta(seconds=max_age_seconds)
        self.skew = dt.timedelta(seconds=clock_skew_seconds)

    def verify(self, envelope: etree._Element, *, now: dt.datetime | None = None) -> str:
        """The system that signed `envelope`, or `Unauthenticated` saying what is wrong."""
        header, message_header, body = _parts(envelope)
        security = header.find(SECURITY) if header is not None else None
        signature = security.find(f"{{{DS_NS}}}Signature") if security is not None else None
        if signature is None:
            raise Unauthenticated.single(
                f"{SECURITY_PATH}/Signature", "signature-required", "sign the message (see the hub's signature profile)"
            )
        cert = self._certificate(signature)
        system, pinned = self.trusted.by_fingerprint.get(fingerprint(cert), (None, None))
        if system is None or pinned is None:
            raise Unauthenticated.single(
                f"{SECURITY_PATH}/Signature/KeyInfo",
                "certificate-unknown",
                f"the signing certificate (SHA-256 {fingerprint(cert)[:16]}…) is not trusted for any system",
            )
        moment = now or _now()
        if not pinned.not_valid_before_utc <= moment <= pinned.not_valid_after_utc:
            raise Unauthenticated.single(
                f"{SECURITY_PATH}/Signature/KeyInfo",
                "certificate-expired",
                f"the certificate of {system} is valid from {pinned.not_valid_before_utc:%Y-%m-%d} "
                f"to {pinned.not_valid_after_utc:%Y-%m-%d}",
            )
        self._unique_ids(envelope)
        try:
            results = XMLVerifier().verify(envelope, x509_cert=pinned, id_attribute="Id", expect_config=ACCEPTED)
        except (InvalidSignature, InvalidInput) as exc:
            raise Unauthenticated.single(f"{SECURITY_PATH}/Signature", "signature-invalid", str(exc)[:300]) from None
        timestamp = security.find(TIMESTAMP) if security is not None else None
        covered = {_uri(r) for r in (results if isinstance(results, list) else [results])}
        expected = {e.get(WSU_ID) for e in (body, message_header, timestamp) if e is not None}
        if None in expected or len(expected) != 3 or covered != expected:
            raise Unauthenticated.single(
                f"{SECURITY_PATH}/Signature/SignedInfo",
                "signature-coverage",
                "the signature must cover exactly the Body, the MessageHeader and the Timestamp, by wsu:Id",
            )
        self._fresh(timestamp, moment)  # type: ignore[arg-type]
        return system

    @staticmethod
    def _certificate(signature: etree._Element) -> x509.Certificate:
        text = signature.findtext(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
        try:
            return x509.load_der_x509_certificate(base64.b64decode("".join((text or "").split()), validate=True))
        except ValueError:
            raise Unauthenticated.single(
                f"{SECURITY_PATH}/Signature/KeyInfo",
                "certificate-required",
                "ds:KeyInfo/ds:X509Data must carry the signer's X.509 certificate",
            ) from None

    @staticmethod
    def _unique_ids(envelope: etree._Element) -> None:
        ids = envelope.xpath("//@*[local-name()='Id' or local-name()='ID' or local-name()='id']")
        if len(ids) != len(set(ids)):
            raise Unauthenticated.single("Envelope", "duplicate-id", "every Id in a signed message must be unique")

    def _fresh(self, timestamp: etree._Element, moment: dt.datetime) -> None:
        where = f"{SECURITY_PATH}/Timestamp"
        try:
            created = dt.datetime.fromisoformat(timestamp.findtext(f"{{{WSU_NS}}}Created") or "")
            expires_text = timestamp.findtext(f"{{{WSU_NS}}}Expires")
            expires = dt.datetime.fromisoformat(expires_text) if expires_text else created + self.max_age
        except ValueError:
            raise Unauthenticated.single(where, "timestamp", "Created and Expires must be xs:dateTime in UTC") from None
        if created.tzinfo is None or expires.tzinfo is None:
            raise Unauthenticated.single(where, "timestamp", "Created and Expires must carry a time zone (Z)")
        if created > moment + self.skew:
            raise Unauthenticated.single(where, "timestamp-future", "the message was created in the future")
        if moment > min(expires, created + self.max_age) + self.skew:
            raise Unauthenticated.single(
                where, "timestamp-expired", f"the message is older than {self.max_age.total_seconds():.0f} s"
            )


def _uri(result: VerifyResult) -> str | None:
    """The wsu:Id of the element a verified reference covers (ids are unique in the message)."""
    return result.signed_xml.get(WSU_ID) if result.signed_xml is not None else None
