"""Which pinned certificate a signature's `ds:KeyInfo` names, in the forms partners' stacks send:

- `ds:X509Data/ds:X509Certificate` (signxml, zeep's `Signature` inside a
  `wsse:SecurityTokenReference`), or `ds:X509Data/ds:X509IssuerSerial` alone;
- `wsse:SecurityTokenReference/wsse:Reference` to a `wsse:BinarySecurityToken` (X509v3, base64) in
  the same Security header (the X.509 Token Profile's usual form: the hub's own, WSS4J/CXF, WCF,
  zeep's `BinarySignature`);
- `wsse:SecurityTokenReference/wsse:KeyIdentifier`: the subject key identifier or SHA-1 thumbprint.

The token a reference points to is looked for only among the Security header's own children.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509
from lxml import etree

from hub.errors import Unauthenticated
from hub.soap.envelope import WSSE_NS
from hub.soap.signature.profile import (
    BASE64_BINARY,
    BINARY_SECURITY_TOKEN,
    SECURITY_TOKEN_REFERENCE,
    SKI,
    THUMBPRINT_SHA1,
    WSU_ID,
    X509V3,
    base64_bytes,
    ds,
)
from hub.soap.signature.trust import TrustedCertificates, fingerprint

WHERE = "Envelope/Header/Security/Signature/KeyInfo"
FORMS = (
    "ds:KeyInfo must name the signer's X.509 certificate: ds:X509Data with ds:X509Certificate or "
    "ds:X509IssuerSerial, or a wsse:SecurityTokenReference with a wsse:Reference to a "
    "wsse:BinarySecurityToken (X509v3) in this Security header, or a wsse:KeyIdentifier"
)


def _required(detail: str = "") -> Unauthenticated:
    return Unauthenticated.single(WHERE, "certificate-required", FORMS + (f" ({detail})" if detail else ""))


def _unknown(cert: x509.Certificate | None) -> Unauthenticated:
    named = f" (SHA-256 {fingerprint(cert)[:16]}…)" if cert is not None else ""
    return Unauthenticated.single(
        WHERE, "certificate-unknown", f"the signing certificate{named} is not trusted for any system"
    )


def signing_certificate(
    signature: etree._Element, security: etree._Element, trusted: TrustedCertificates
) -> tuple[str, x509.Certificate]:
    """The system and the pinned certificate the signature names, or `Unauthenticated`."""
    key_info = signature.find(ds("KeyInfo"))
    if key_info is None:
        raise _required("there is none")
    form = _only_child(key_info, "ds:KeyInfo")
    if form.tag == ds("X509Data"):
        return _x509_data(form, trusted)
    if form.tag == SECURITY_TOKEN_REFERENCE:
        return _token_reference(form, security, trusted)
    raise _required(f"{etree.QName(form).localname} is not one of them")


def _only_child(element: etree._Element, name: str) -> etree._Element:
    forms = [child for child in element if isinstance(child.tag, str)]
    if len(forms) != 1:
        raise _required(f"{name} holds {len(forms)} elements, not one")
    return forms[0]


def _certificates(texts: list[str | None]) -> Iterator[x509.Certificate]:
    for text in texts:
        try:
            yield x509.load_der_x509_certificate(base64_bytes(text, strict=True))
        except ValueError:
            raise _required("a certificate is not base64 DER") from None


def _x509_data(data: etree._Element, trusted: TrustedCertificates) -> tuple[str, x509.Certificate]:
    certificates = list(_certificates([e.text for e in data.iterfind(ds("X509Certificate"))]))
    for cert in certificates:  # a stack may send its chain; the signer's own is the pinned one
        if (found := trusted.pinned(cert)) is not None:
            return found
    if certificates:
        raise _unknown(certificates[0])
    issuer_serial = data.find(ds("X509IssuerSerial"))
    if issuer_serial is None:
        raise _required("ds:X509Data holds neither")
    issuer = issuer_serial.findtext(ds("X509IssuerName")) or ""
    serial = (issuer_serial.findtext(ds("X509SerialNumber")) or "").strip()
    if not serial.isdecimal() or not serial.isascii():
        raise _required("X509SerialNumber is not a decimal number")
    found = trusted.by_issuer_serial(issuer, int(serial))
    if found is None:
        raise _unknown(None)
    return found


def _token_reference(
    reference: etree._Element, security: etree._Element, trusted: TrustedCertificates
) -> tuple[str, x509.Certificate]:
    form = _only_child(reference, "the SecurityTokenReference")
    if form.tag == ds("X509Data"):
        return _x509_data(form, trusted)
    if form.tag == f"{{{WSSE_NS}}}Reference":
        return _binary_token(form, security, trusted)
    if form.tag == f"{{{WSSE_NS}}}KeyIdentifier":
        try:
            value = base64_bytes(form.text, strict=True)
        except ValueError:
            raise _required("the KeyIdentifier is not base64") from None
        if form.get("EncodingType", BASE64_BINARY) != BASE64_BINARY:
            raise _required("a KeyIdentifier is base64")
        lookups = {SKI: trusted.by_subject_key_identifier, THUMBPRINT_SHA1: trusted.by_thumbprint}
        kind = form.get("ValueType", "")
        if kind not in lookups:
            raise _required(f"a KeyIdentifier of type {kind!r} is not one of them")
        found = lookups[kind](value)
        if found is None:
            raise _unknown(None)
        return found
    raise _required(f"{etree.QName(form).localname} in the SecurityTokenReference is not one of them")


def _binary_token(
    reference: etree._Element, security: etree._Element, trusted: TrustedCertificates
) -> tuple[str, x509.Certificate]:
    uri = reference.get("URI") or ""
    tokens = [
        t for t in security.iterchildren(BINARY_SECURITY_TOKEN) if uri.startswith("#") and t.get(WSU_ID) == uri[1:]
    ]
    if len(tokens) != 1:
        raise _required(f"the Reference {uri!r} names no BinarySecurityToken of this Security header")
    (token,) = tokens
    if token.get("ValueType") != X509V3 or reference.get("ValueType", X509V3) != X509V3:
        raise _required("the BinarySecurityToken must be an X509v3 certificate")
    if token.get("EncodingType", BASE64_BINARY) != BASE64_BINARY:
        raise _required("the BinarySecurityToken must be base64 (Base64Binary)")
    (cert,) = _certificates([token.text])
    found = trusted.pinned(cert)
    if found is None:
        raise _unknown(cert)
    return found
