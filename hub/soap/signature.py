"""Who sent a SOAP message, proved by an XML signature over its body, its VISS header and a
timestamp, in a WS-Security header.

The profile, the same both ways (partners to the hub, the hub to the state systems):

- `wsse:Security` in `soap:Header` holds a `wsu:Timestamp` (`Created`, `Expires`) and a detached
  `ds:Signature`: exclusive C14N, RSA-SHA256 / ECDSA-SHA256 (or SHA-512), SHA-256 digests, exactly
  three references by `wsu:Id`: `soap:Body`, `vh:MessageHeader` and the `wsu:Timestamp`, each with
  the one transform exclusive C14N;
- `ds:KeyInfo/ds:X509Data` carries the signer's certificate. A certificate is trusted only when it
  is pinned for a system, and that system is the authenticated sender.

Only this profile is produced and accepted, and that is why the hub signs and verifies with lxml's
exclusive C14N and `cryptography` directly: a general XML-DSig library copies the whole document
for every reference, which cost the gateway and the workers more than everything else they do per
record (the benchmark's profile). The tests hold this code against signxml both ways.

A valid signature over the wrong element proves nothing (signature wrapping), so the verifier also
demands that every Id in the message is unique and that the three references are the very Body,
MessageHeader and Timestamp the hub goes on to read. The timestamp bounds replays.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from lxml import etree

from hub.errors import Unauthenticated
from hub.soap.envelope import SECURITY, SOAP11_NS, WSSE_NS
from hub.soap.header import VH_NS

WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
TIMESTAMP = f"{{{WSU_NS}}}Timestamp"
WSU_ID = f"{{{WSU_NS}}}Id"
SECURITY_PATH = "Envelope/Header/Security"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

SIGNATURE_METHODS = {
    RSA_SHA256: ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    ECDSA_SHA256: ("ec", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", hashes.SHA512),
}
DIGEST_METHODS = {
    SHA256: hashlib.sha256,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _base64(text: str | None, *, strict: bool = False) -> bytes:
    """The bytes of a base64 element text, which may be wrapped over lines; ValueError if not base64."""
    return base64.b64decode("".join((text or "").split()), validate=strict)


def _ds(parent: etree._Element, name: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{DS_NS}}}{name}", attributes)


def _parts(envelope: etree._Element) -> tuple[etree._Element | None, etree._Element | None, etree._Element | None]:
    """The soap:Header, the vh:MessageHeader in it, and the soap:Body of an envelope."""
    header = envelope.find(f"{{{SOAP11_NS}}}Header")
    message_header = header.find(f"{{{VH_NS}}}MessageHeader") if header is not None else None
    return header, message_header, envelope.find(f"{{{SOAP11_NS}}}Body")


class Signer:
    """Signs envelopes with one key and its certificate: a partner's, or the hub's own."""

    def __init__(self, key: PrivateKeyTypes, cert: x509.Certificate, *, lifetime_seconds: float = 300.0) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("an RSA or EC key signs; other kinds are not in the profile")
        self.key = key
        self.cert = cert
        self.lifetime = dt.timedelta(seconds=lifetime_seconds)
        self._cert_text = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()

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
        signature = etree.SubElement(security, f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS})
        signed_info = _ds(signature, "SignedInfo")
        _ds(signed_info, "CanonicalizationMethod", Algorithm=EXC_C14N)
        rsa_key = isinstance(self.key, rsa.RSAPrivateKey)
        _ds(signed_info, "SignatureMethod", Algorithm=RSA_SHA256 if rsa_key else ECDSA_SHA256)
        for element, prefix in ((body, "body"), (message_header, "header"), (timestamp, "ts")):
            element.set(WSU_ID, f"{prefix}-{uuid.uuid4()}")
            reference = _ds(signed_info, "Reference", URI=f"#{element.get(WSU_ID)}")
            _ds(_ds(reference, "Transforms"), "Transform", Algorithm=EXC_C14N)
            _ds(reference, "DigestMethod", Algorithm=SHA256)
            _ds(reference, "DigestValue").text = base64.b64encode(hashlib.sha256(_c14n(element)).digest()).decode()
        _ds(signature, "SignatureValue").text = base64.b64encode(self._signature(_c14n(signed_info))).decode()
        _ds(_ds(_ds(signature, "KeyInfo"), "X509Data"), "X509Certificate").text = self._cert_text
        return envelope

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))  # type: ignore[union-attr]
        size = (self.key.curve.key_size + 7) // 8  # type: ignore[union-attr]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # XML-DSig carries r and s side by side


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


def _invalid(message: str, where: str = f"{SECURITY_PATH}/Signature") -> Unauthenticated:
    return Unauthenticated.single(where, "signature-invalid", message)


def _coverage() -> Unauthenticated:
    return Unauthenticated.single(
        f"{SECURITY_PATH}/Signature/SignedInfo",
        "signature-coverage",
        "the signature must cover exactly the Body, the MessageHeader and the Timestamp, by wsu:Id, each "
        "with exclusive C14N as its one transform",
    )


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
        timestamp = security.find(TIMESTAMP) if security is not None else None
        signed_info = signature.find(f"{{{DS_NS}}}SignedInfo")
        if signed_info is None:
            raise _invalid("ds:SignedInfo is missing")
        method = self._signed_info(signed_info)
        covered = self._references(
            signed_info, {e.get(WSU_ID): e for e in (body, message_header, timestamp) if e is not None}
        )
        if len(covered) != 3:
            raise _coverage()
        self._signature_value(signature, signed_info, method, pinned)
        self._fresh(timestamp, moment)  # type: ignore[arg-type]
        return system

    @staticmethod
    def _certificate(signature: etree._Element) -> x509.Certificate:
        text = signature.findtext(f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate")
        try:
            return x509.load_der_x509_certificate(_base64(text, strict=True))
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

    @staticmethod
    def _signed_info(signed_info: etree._Element) -> str:
        """The signature method, once SignedInfo is shaped as the profile says."""
        c14n = signed_info.find(f"{{{DS_NS}}}CanonicalizationMethod")
        if c14n is None or c14n.get("Algorithm") != EXC_C14N or len(c14n):
            raise _invalid("SignedInfo must be canonicalised with exclusive C14N, without parameters")
        method = signed_info.find(f"{{{DS_NS}}}SignatureMethod")
        if method is None or method.get("Algorithm") not in SIGNATURE_METHODS or len(method):
            raise _invalid(f"the signature method must be one of {sorted(SIGNATURE_METHODS)}, without parameters")
        return method.get("Algorithm")  # type: ignore[return-value]

    @staticmethod
    def _references(signed_info: etree._Element, expected: Mapping[str | None, etree._Element]) -> set[str]:
        """Check each reference's digest over the element of this envelope it names; the ids covered."""
        covered: set[str] = set()
        for reference in signed_info.iterfind(f"{{{DS_NS}}}Reference"):
            uri = reference.get("URI") or ""
            element = expected.get(uri[1:]) if uri.startswith("#") else None
            transforms = reference.findall(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")
            if (
                element is None
                or uri[1:] in covered
                or len(transforms) != 1
                or transforms[0].get("Algorithm") != EXC_C14N
                or len(transforms[0])
            ):
                raise _coverage()
            digest_method = reference.find(f"{{{DS_NS}}}DigestMethod")
            algorithm = DIGEST_METHODS.get(digest_method.get("Algorithm", "") if digest_method is not None else "")
            if algorithm is None:
                raise _invalid(f"the digest method must be one of {sorted(DIGEST_METHODS)}")
            try:
                stated = _base64(reference.findtext(f"{{{DS_NS}}}DigestValue"))
            except ValueError:
                raise _invalid(f"the digest of {uri} is not base64") from None
            if not hmac.compare_digest(stated, algorithm(_c14n(element)).digest()):
                raise _invalid(f"the digest of {uri} does not match: the element changed after it was signed")
            covered.add(uri[1:])
        return covered

    @staticmethod
    def _signature_value(
        signature: etree._Element, signed_info: etree._Element, method: str, cert: x509.Certificate
    ) -> None:
        try:
            value = _base64(signature.findtext(f"{{{DS_NS}}}SignatureValue"))
        except ValueError:
            raise _invalid("SignatureValue is not base64") from None
        kind, digest = SIGNATURE_METHODS[method]
        key = cert.public_key()
        data = _c14n(signed_info)
        try:
            if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
                key.verify(value, data, padding.PKCS1v15(), digest())
            elif kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey) and len(value) % 2 == 0:
                half = len(value) // 2
                der = encode_dss_signature(int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big"))
                key.verify(der, data, ec.ECDSA(digest()))
            else:
                raise _invalid("the signature method does not fit the certificate's key")
        except InvalidSignature:
            raise _invalid("the signature does not verify with the signer's certificate") from None

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
