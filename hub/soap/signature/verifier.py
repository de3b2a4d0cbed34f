"""Who sent a SOAP message, proved by an XML signature over its Body, its VISS header and a timestamp.

The verifier is handed the parts `parse_envelope` found (each the single one of its kind, where the
profile puts it) and checks the signature over exactly those element objects, which the gateway
then reads: a valid signature over another copy proves nothing (signature wrapping).

Cheap first, because until the signature value is checked the sender is anyone: the shape of
SignedInfo (a few dozen elements), the certificate (pinned), then the signature value over the
canonical SignedInfo. Only then are the references digested, which canonicalises up to megabytes:
an unauthenticated sender cannot make the hub do that. The timestamp is digested and checked for
freshness before the header and the Body, so a stale replay costs little too.

Only the profile is accepted, and that is why the hub verifies with lxml's C14N and `cryptography`
directly: a general XML-DSig library copies the whole document for every reference, and the hub
verifies every request it takes. The tests hold this code against signxml, python-xmlsec, zeep,
the xmlsec1 command and the JDK's XML-DSig, both ways.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from hub.errors import Unauthenticated
from hub.soap.envelope import DS_NS, WSU_NS, SoapMessage
from hub.soap.signature.keyinfo import signing_certificate
from hub.soap.signature.profile import (
    C14N,
    DIGEST_METHODS,
    EXC_C14N,
    EXCLUSIVE,
    INCLUSIVE_NAMESPACES,
    SIGNATURE_METHODS,
    WSU_ID,
    Canonicalization,
    base64_bytes,
    ds,
)
from hub.soap.signature.trust import TrustedCertificates

SIGNATURE_PATH = "Envelope/Header/Security/Signature"
SIGNED_INFO_PATH = f"{SIGNATURE_PATH}/SignedInfo"
TIMESTAMP_PATH = "Envelope/Header/Security/Timestamp"
MAX_REFERENCES = 8
MAX_SIGNED_INFO_ELEMENTS = 64
_PREFIX = re.compile(r"^(#default|[A-Za-z_][\w.\-]*)$")
# the Ids a reference can name: WS-Security's, and XML-DSig's own (Signature, KeyInfo, Reference, ...)
_REFERABLE_IDS = etree.XPath("//@wsu:Id | //ds:*/@Id", namespaces={"wsu": WSU_NS, "ds": DS_NS})


def _invalid(message: str, where: str = SIGNATURE_PATH) -> Unauthenticated:
    return Unauthenticated.single(where, "signature-invalid", message)


def _refused(where: str, rule: str, message: str) -> Unauthenticated:
    return Unauthenticated.single(where, rule, message)


def _coverage(message: str) -> Unauthenticated:
    return Unauthenticated.single(
        SIGNED_INFO_PATH,
        "signature-coverage",
        f"the signature must reference, by wsu:Id, the Body, the MessageHeader and the Timestamp once each: {message}",
    )


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


@dataclass(frozen=True)
class _Reference:
    uri: str
    canonicalization: Canonicalization
    digest: Callable[[bytes], object]
    value: bytes


class SignatureVerifier:
    def __init__(
        self, trusted: TrustedCertificates, *, max_age_seconds: float = 300.0, clock_skew_seconds: float = 60.0
    ) -> None:
        self.trusted = trusted
        self.max_age = dt.timedelta(seconds=max_age_seconds)
        self.skew = dt.timedelta(seconds=clock_skew_seconds)

    @property
    def replay_window(self) -> dt.timedelta:
        """From its arrival, how long a copy of a message could still be accepted: its timestamp may lie
        up to the clock skew ahead, and is accepted until its age plus the skew."""
        return self.max_age + 2 * self.skew

    def verify(self, message: SoapMessage, *, now: dt.datetime | None = None) -> str:
        """The system that signed `message`, or `Unauthenticated` saying what is wrong."""
        signature, security, timestamp = message.signature, message.security, message.timestamp
        if signature is None or security is None:
            raise _refused(SIGNATURE_PATH, "signature-required", "sign the message (see the hub's signature profile)")
        if timestamp is None:
            raise _refused(TIMESTAMP_PATH, "required", "a signed message carries a wsu:Timestamp, signed with it")
        self._unique_ids(message.envelope)
        signed_info, method, canonicalization, references = self._signed_info(signature)
        system, cert = signing_certificate(signature, security, self.trusted)
        moment = now or dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            raise _refused(
                f"{SIGNATURE_PATH}/KeyInfo",
                "certificate-expired",
                f"the certificate of {system} is valid from {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d}",
            )
        unsupported = canonicalization.unsupported_because(signed_info)
        if unsupported:
            raise _refused(f"{SIGNED_INFO_PATH}/CanonicalizationMethod", "transform-refused", unsupported)
        self._signature_value(signature, canonicalization(signed_info), method, cert)
        covered = self._covered(references, message)
        for reference, element in covered:  # the timestamp's first: see the module's docstring
            self._digest(reference, element)
            if element is timestamp:
                self._fresh(timestamp, moment)
        return system

    @staticmethod
    def _unique_ids(envelope: etree._Element) -> None:
        ids = _REFERABLE_IDS(envelope)
        if len(ids) != len(set(ids)):
            raise _refused("Envelope", "duplicate-id", "every wsu:Id (and ds:* Id) in a signed message must be unique")

    def _signed_info(self, signature: etree._Element) -> tuple[etree._Element, str, Canonicalization, list[_Reference]]:
        """SignedInfo, once it is shaped as the profile says, with what it names; nothing digested yet."""
        children = _elements(signature)
        names = [etree.QName(c).localname if etree.QName(c).namespace == DS_NS else None for c in children]
        if names[:2] != ["SignedInfo", "SignatureValue"] or names[2:] not in ([], ["KeyInfo"]):
            raise _invalid("ds:Signature holds SignedInfo, SignatureValue and KeyInfo, in that order, nothing else")
        signed_info = children[0]
        if sum(1 for _ in signed_info.iter()) > MAX_SIGNED_INFO_ELEMENTS:
            raise _invalid(f"SignedInfo holds more than {MAX_SIGNED_INFO_ELEMENTS} elements", SIGNED_INFO_PATH)
        parts = _elements(signed_info)
        if (
            len(parts) < 3
            or parts[0].tag != ds("CanonicalizationMethod")
            or parts[1].tag != ds("SignatureMethod")
            or any(p.tag != ds("Reference") for p in parts[2:])
        ):
            raise _invalid(
                "SignedInfo holds CanonicalizationMethod, SignatureMethod and References, in that order",
                SIGNED_INFO_PATH,
            )
        canonicalization = self._canonicalization(parts[0], f"{SIGNED_INFO_PATH}/CanonicalizationMethod", False)
        method = parts[1].get("Algorithm", "")
        if method not in SIGNATURE_METHODS or _elements(parts[1]):
            raise _refused(
                f"{SIGNED_INFO_PATH}/SignatureMethod",
                "algorithm-refused",
                f"the signature method must be one of {sorted(SIGNATURE_METHODS)}, without parameters "
                "(SHA-1, DSA and HMAC are refused)",
            )
        if len(parts) - 2 > MAX_REFERENCES:
            raise _coverage(f"{len(parts) - 2} references, at most {MAX_REFERENCES}")
        return signed_info, method, canonicalization, [self._reference(r) for r in parts[2:]]

    def _reference(self, reference: etree._Element) -> _Reference:
        where = f"{SIGNED_INFO_PATH}/Reference"
        uri = reference.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2 or set(reference.attrib) - {"URI", "Id", "Type"}:
            raise _coverage(f"a Reference URI must be '#' and a wsu:Id, not {uri[:80]!r}")
        parts = _elements(reference)
        canonicalization = Canonicalization(exclusive=False)  # the specification's default: inclusive C14N 1.0
        if parts and parts[0].tag == ds("Transforms"):
            transforms = _elements(parts.pop(0))
            if len(transforms) != 1 or transforms[0].tag != ds("Transform"):
                raise _refused(
                    f"{where}/Transforms", "transform-refused", "a reference has one transform: exclusive C14N"
                )
            canonicalization = self._canonicalization(transforms[0], f"{where}/Transforms/Transform", True)
        if [p.tag for p in parts] != [ds("DigestMethod"), ds("DigestValue")]:
            raise _invalid("a Reference holds Transforms, DigestMethod and DigestValue, in that order", where)
        digest = DIGEST_METHODS.get(parts[0].get("Algorithm", ""))
        if digest is None or _elements(parts[0]):
            raise _refused(
                f"{where}/DigestMethod",
                "algorithm-refused",
                f"the digest method must be one of {sorted(DIGEST_METHODS)} (SHA-1 is refused)",
            )
        try:
            value = base64_bytes(parts[1].text, strict=True)
        except ValueError:
            raise _invalid(f"the digest of {uri} is not base64", where) from None
        return _Reference(uri, canonicalization, digest, value)

    @staticmethod
    def _canonicalization(method: etree._Element, where: str, inclusive_allowed: bool) -> Canonicalization:
        algorithm = method.get("Algorithm", "")
        parameters = _elements(method)
        if algorithm == EXC_C14N and not parameters:
            return EXCLUSIVE
        if algorithm == EXC_C14N and len(parameters) == 1 and parameters[0].tag == INCLUSIVE_NAMESPACES:
            prefixes = (parameters[0].get("PrefixList") or "").split()
            if set(parameters[0].attrib) == {"PrefixList"} and all(_PREFIX.match(p) for p in prefixes):
                return Canonicalization(prefixes=prefixes)
        elif algorithm == C14N and inclusive_allowed and not parameters:
            return Canonicalization(exclusive=False)
        accepted = "exclusive C14N (an ec:InclusiveNamespaces PrefixList allowed)" + (
            ", or inclusive C14N 1.0, which is also what a reference without transforms means"
            if inclusive_allowed
            else ""
        )
        raise _refused(where, "transform-refused", f"{algorithm or 'no algorithm'} is refused: use {accepted}")

    @staticmethod
    def _signature_value(signature: etree._Element, data: bytes, method: str, cert: x509.Certificate) -> None:
        try:
            value = base64_bytes(signature.findtext(ds("SignatureValue")), strict=True)
        except ValueError:
            raise _invalid("SignatureValue is not base64") from None
        kind, digest = SIGNATURE_METHODS[method]
        key = cert.public_key()
        try:
            if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
                key.verify(value, data, padding.PKCS1v15(), digest())
            elif kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
                size = (key.curve.key_size + 7) // 8
                if len(value) != 2 * size:
                    raise InvalidSignature
                r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
                key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest()))
            else:
                raise _refused(
                    f"{SIGNED_INFO_PATH}/SignatureMethod",
                    "algorithm-refused",
                    "the signature method does not fit the certificate's key",
                )
        except InvalidSignature:
            raise _invalid("the signature does not verify with the signer's certificate") from None

    @staticmethod
    def _covered(references: list[_Reference], message: SoapMessage) -> list[tuple[_Reference, etree._Element]]:
        """Each reference with the element it names, the timestamp's first. The three the profile signs
        are the very objects the hub reads; a reference may also name another header block or a child
        of the Security header (a security token), never anything else."""
        required = {"Timestamp": message.timestamp, "MessageHeader": message.message_header, "Body": message.body}
        others = [*(message.header if message.header is not None else ()), *message.security]  # type: ignore[union-attr]
        named = {e.get(WSU_ID): e for e in [*others, *required.values()] if e is not None and e.get(WSU_ID)}
        named.pop(message.signature.get(WSU_ID) if message.signature is not None else None, None)
        covered: list[tuple[_Reference, etree._Element]] = []
        for reference in references:
            element = named.get(reference.uri[1:])
            if element is None:
                raise _coverage(f"{reference.uri[:80]} names no element the profile signs")
            if any(element is seen for _, seen in covered):
                raise _coverage(f"{reference.uri[:80]} is referenced twice")
            covered.append((reference, element))
        for name, element in required.items():
            if element is None or not any(element is seen for _, seen in covered):
                raise _coverage(f"the {name} is not covered")
        order = list(required.values())
        return sorted(covered, key=lambda pair: next((i for i, e in enumerate(order) if e is pair[1]), len(order)))

    @staticmethod
    def _digest(reference: _Reference, element: etree._Element) -> None:
        unsupported = reference.canonicalization.unsupported_because(element)
        if unsupported:
            raise _refused(f"{SIGNED_INFO_PATH}/Reference", "transform-refused", f"{reference.uri[:80]}: {unsupported}")
        computed = reference.digest(reference.canonicalization(element)).digest()  # type: ignore[attr-defined]
        if not hmac.compare_digest(reference.value, computed):
            raise _invalid(
                f"the digest of {reference.uri[:80]} does not match: the element changed after it was signed",
                f"{SIGNED_INFO_PATH}/Reference",
            )

    def _fresh(self, timestamp: etree._Element, moment: dt.datetime) -> None:
        try:
            created = dt.datetime.fromisoformat((timestamp.findtext(f"{{{WSU_NS}}}Created") or "").strip())
            expires_text = timestamp.findtext(f"{{{WSU_NS}}}Expires")
            expires = dt.datetime.fromisoformat(expires_text.strip()) if expires_text else created + self.max_age
        except ValueError:
            raise _refused(TIMESTAMP_PATH, "timestamp", "Created and Expires must be xs:dateTime in UTC") from None
        if created.tzinfo is None or expires.tzinfo is None:
            raise _refused(TIMESTAMP_PATH, "timestamp", "Created and Expires must carry a time zone (Z)")
        if created > moment + self.skew:
            raise _refused(TIMESTAMP_PATH, "timestamp-future", "the message was created in the future")
        if moment > min(expires, created + self.max_age) + self.skew:
            raise _refused(
                TIMESTAMP_PATH, "timestamp-expired", f"the message is older than {self.max_age.total_seconds():.0f} s"
            )
