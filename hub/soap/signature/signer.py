"""Signing in the hub's profile: a partner's key (the simulators, tests) or the hub's own (its calls
to the state systems, and every answer of the gateway)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from lxml import etree

from hub.soap.envelope import BODY, DS_NS, HEADER, MESSAGE_HEADER, SECURITY, TIMESTAMP, WSSE_NS, WSU_NS
from hub.soap.signature.profile import (
    BASE64_BINARY,
    BINARY_SECURITY_TOKEN,
    ECDSA_SHA256,
    EXC_C14N,
    EXCLUSIVE,
    RSA_SHA256,
    SECURITY_TOKEN_REFERENCE,
    SHA256,
    WSU_ID,
    X509V3,
    ds,
)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ds(parent: etree._Element, name: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, ds(name), attributes)


class Signer:
    """Signs envelopes with one key and its certificate: the Body, the VISS MessageHeader when the
    envelope has one, and a new Timestamp, each by wsu:Id with exclusive C14N.

    The certificate travels as a `wsse:BinarySecurityToken` that `ds:KeyInfo` references through a
    `wsse:SecurityTokenReference`: the Basic Security Profile's form, the only one Apache WSS4J (and so
    CXF) accepts when it verifies, and what WCF sends. `token=False` puts it in `ds:X509Data` instead,
    as signxml and zeep's `Signature` do (the tests sign partners' messages both ways)."""

    def __init__(
        self, key: PrivateKeyTypes, cert: x509.Certificate, *, lifetime_seconds: float = 300.0, token: bool = True
    ) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("an RSA or EC key signs; other kinds are not in the profile")
        self.key = key
        self.cert = cert
        self.lifetime = dt.timedelta(seconds=lifetime_seconds)
        self.token = token
        self._cert_text = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes, *, token: bool = True) -> Signer:
        return cls(load_pem_private_key(key_pem, password=None), x509.load_pem_x509_certificate(cert_pem), token=token)

    @classmethod
    def from_files(cls, key_file: Path, cert_file: Path, *, token: bool = True) -> Signer:
        return cls.from_pem(key_file.read_bytes(), cert_file.read_bytes(), token=token)

    def sign(self, envelope: etree._Element, *, now: dt.datetime | None = None) -> etree._Element:
        """Add wsse:Security with a timestamp and the signature to an envelope that has a soap:Header
        and a Body; returns the same envelope."""
        header, body = envelope.find(HEADER), envelope.find(BODY)
        if header is None or body is None:
            raise ValueError("only an envelope with a soap:Header and a Body can be signed")
        message_header = header.find(MESSAGE_HEADER)
        created = now or dt.datetime.now(dt.UTC)
        security = etree.Element(SECURITY, nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
        header.insert(0, security)
        token_id = f"x509-{uuid.uuid4()}"
        if self.token:  # before the Signature that references it, as WSS4J writes it
            token = etree.SubElement(security, BINARY_SECURITY_TOKEN, EncodingType=BASE64_BINARY, ValueType=X509V3)
            token.set(WSU_ID, token_id)
            token.text = self._cert_text
        timestamp = etree.SubElement(security, TIMESTAMP)
        etree.SubElement(timestamp, f"{{{WSU_NS}}}Created").text = _stamp(created)
        etree.SubElement(timestamp, f"{{{WSU_NS}}}Expires").text = _stamp(created + self.lifetime)
        signature = etree.SubElement(security, ds("Signature"), nsmap={"ds": DS_NS})
        signed_info = _ds(signature, "SignedInfo")
        _ds(signed_info, "CanonicalizationMethod", Algorithm=EXC_C14N)
        rsa_key = isinstance(self.key, rsa.RSAPrivateKey)
        _ds(signed_info, "SignatureMethod", Algorithm=RSA_SHA256 if rsa_key else ECDSA_SHA256)
        for element, prefix in ((body, "body"), (message_header, "header"), (timestamp, "ts")):
            if element is None:
                continue
            element.set(WSU_ID, f"{prefix}-{uuid.uuid4()}")
            reference = _ds(signed_info, "Reference", URI=f"#{element.get(WSU_ID)}")
            _ds(_ds(reference, "Transforms"), "Transform", Algorithm=EXC_C14N)
            _ds(reference, "DigestMethod", Algorithm=SHA256)
            _ds(reference, "DigestValue").text = base64.b64encode(hashlib.sha256(EXCLUSIVE(element)).digest()).decode()
        _ds(signature, "SignatureValue").text = base64.b64encode(self._signature(EXCLUSIVE(signed_info))).decode()
        key_info = _ds(signature, "KeyInfo")
        if self.token:
            token_reference = etree.SubElement(key_info, SECURITY_TOKEN_REFERENCE)
            etree.SubElement(token_reference, f"{{{WSSE_NS}}}Reference", URI=f"#{token_id}", ValueType=X509V3)
        else:
            _ds(_ds(key_info, "X509Data"), "X509Certificate").text = self._cert_text
        return envelope

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))  # type: ignore[union-attr]
        size = (self.key.curve.key_size + 7) // 8  # type: ignore[union-attr]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # XML-DSig carries r and s side by side
