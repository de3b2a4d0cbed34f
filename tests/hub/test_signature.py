"""Signatures prove who sent a message: a valid one over exactly the Body, the VISS header and a
fresh timestamp, by a certificate pinned for a system. Everything else is refused, naming why."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml import methods as signature_methods
from signxml.exceptions import InvalidInput, InvalidSignature

from hub.devpki import issue
from hub.errors import Unauthenticated, ValidationFailed
from hub.settings import PROJECT_ROOT
from hub.soap import parse_envelope
from hub.soap.signature import WSU_ID, SignatureVerifier, Signer, TrustedCertificates
from hub.xml.parser import HardenedParser
from tests.helpers import examples

SAMPLE = (PROJECT_ROOT / "schemas" / "sopa" / "samples" / "valid" / "benefits.xml").read_bytes()
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"


@pytest.fixture(scope="module")
def verifier(dev_pki: Path) -> SignatureVerifier:
    return SignatureVerifier(TrustedCertificates.from_dir(dev_pki, ["sopa", "lietis"]))


def signed_by(pki: Path, system: str, *, now: dt.datetime | None = None) -> bytes:
    root = etree.fromstring(SAMPLE)
    Signer.from_files(pki / f"{system}.key", pki / f"{system}.pem").sign(root, now=now)
    return etree.tostring(root)


def verified(verifier: SignatureVerifier, data: bytes | etree._Element, **kwargs) -> str:
    root = etree.fromstring(data) if isinstance(data, bytes) else data
    return verifier.verify(parse_envelope(root), **kwargs)


def refusal(verifier: SignatureVerifier, data: bytes, **kwargs) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        verified(verifier, data, **kwargs)
    (error,) = refused.value.errors
    return error.field, error.rule


def test_a_signed_message_names_its_sender(dev_pki, verifier):
    assert verified(verifier, signed_by(dev_pki, "sopa")) == "sopa"
    assert verified(verifier, signed_by(dev_pki, "lietis")) == "lietis"


def test_an_unsigned_message_is_refused(verifier):
    assert refusal(verifier, SAMPLE) == ("Envelope/Header/Security/Signature", "signature-required")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<sopa:SummaEUR>311", b"<sopa:SummaEUR>911"),  # the body: an amount
        (b"<vh:Sender>sopa</vh:Sender>", b"<vh:Sender>gvs</vh:Sender>"),  # the header: who sends
        (b"<wsu:Created>2", b"<wsu:Created>1"),  # the timestamp
    ],
)
def test_any_change_after_signing_breaks_the_signature(dev_pki, verifier, old, new):
    data = signed_by(dev_pki, "sopa")
    assert old in data
    assert refusal(verifier, data.replace(old, new, 1))[1] == "signature-invalid"


def test_a_certificate_nobody_pinned_is_refused(dev_pki, verifier, tmp_path):
    key, cert = issue("sopa")  # same name, another key: what an impostor would make
    root = etree.fromstring(SAMPLE)
    Signer.from_pem(key, cert).sign(root)
    assert refusal(verifier, etree.tostring(root))[1] == "certificate-unknown"


def test_an_expired_certificate_is_refused_even_when_pinned(tmp_path):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    key, cert = issue("sopa", days=30, now=past)
    root = etree.fromstring(SAMPLE)
    Signer.from_pem(key, cert).sign(root)
    pinned = SignatureVerifier(TrustedCertificates.of({"sopa": [x509.load_pem_x509_certificate(cert)]}))
    assert refusal(pinned, etree.tostring(root))[1] == "certificate-expired"


def test_old_and_future_timestamps_are_refused(dev_pki, verifier):
    now = dt.datetime.now(dt.UTC)
    assert refusal(verifier, signed_by(dev_pki, "sopa", now=now - dt.timedelta(minutes=10)))[1] == "timestamp-expired"
    assert refusal(verifier, signed_by(dev_pki, "sopa", now=now + dt.timedelta(minutes=10)))[1] == "timestamp-future"


def test_a_wrapped_body_with_the_signed_one_hidden_elsewhere_is_refused(dev_pki, verifier):
    """The classic signature-wrapping attack: keep the signed Body where the verifier finds it by
    Id, put a forged one where the application reads."""
    root = etree.fromstring(signed_by(dev_pki, "sopa"))
    body = root.find(f"{SOAP}Body")
    forged = etree.fromstring(etree.tostring(body))
    forged.find(".//{*}SummaEUR").text = "9999.00"
    hidden = etree.SubElement(root.find(f"{SOAP}Header"), "{urn:x}Wrapper")
    root.replace(body, forged)
    hidden.append(body)
    assert refusal(verifier, etree.tostring(root)) == ("Envelope/Body", "misplaced-element")


def test_a_signature_that_does_not_cover_the_body_is_refused(dev_pki, verifier):
    root = etree.fromstring(signed_by(dev_pki, "sopa"))
    body = root.find(f"{SOAP}Body")
    signed_id = body.get(WSU_ID)
    decoy = etree.SubElement(root.find(f"{SOAP}Header"), "{urn:x}Decoy")
    decoy.append(etree.fromstring(etree.tostring(body[0])))
    decoy.set(WSU_ID, signed_id)  # the signed content moves to a decoy that keeps the Id
    del body.attrib[WSU_ID]
    body[0].find(".//{*}SummaEUR").text = "9999.00"
    assert refusal(verifier, etree.tostring(root))[1] in ("signature-invalid", "signature-coverage")


def test_a_new_certificate_beside_the_old_one_is_trusted_during_a_rotation(dev_pki, tmp_path):
    shutil.copy(dev_pki / "sopa.pem", tmp_path / "sopa.pem")
    key, cert = issue("sopa")
    (tmp_path / "sopa.2027.pem").write_bytes(cert)
    trusted = SignatureVerifier(TrustedCertificates.from_dir(tmp_path, ["sopa"]))
    root = etree.fromstring(SAMPLE)
    Signer.from_pem(key, cert).sign(root)
    assert verified(trusted, root) == "sopa"
    assert verified(trusted, signed_by(dev_pki, "sopa")) == "sopa"


# -- held against signxml, an independent XML-DSig implementation -------------------------------------

ACCEPTED = SignatureConfiguration(expect_references=3)


def signxml_verifies(data: bytes, cert_pem: bytes) -> bool:
    try:
        XMLVerifier().verify(
            etree.fromstring(data), x509_cert=cert_pem.decode(), id_attribute="Id", expect_config=ACCEPTED
        )
    except (InvalidSignature, InvalidInput):
        return False
    return True


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signxml_verifies_what_the_hub_signs_and_the_hub_what_signxml_signs(kind):
    key, cert = issue("sopa", kind=kind)
    pinned = SignatureVerifier(TrustedCertificates.of({"sopa": [x509.load_pem_x509_certificate(cert)]}))
    ours = etree.fromstring(SAMPLE)
    Signer.from_pem(key, cert).sign(ours)
    assert signxml_verifies(etree.tostring(ours), cert)
    assert verified(pinned, etree.tostring(ours)) == "sopa"

    theirs = etree.fromstring(SAMPLE)
    Signer.from_pem(key, cert).sign(theirs)  # the same Security header and Ids, then signxml's signature
    security = theirs.find(".//{*}Security")
    security.remove(security.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    covered = (theirs.find(f"{SOAP}Body"), theirs.find(".//{*}MessageHeader"), security.find("{*}Timestamp"))
    ids = [f"#{e.get(WSU_ID)}" for e in covered]
    method = SignatureMethod.RSA_SHA256 if kind == "rsa" else SignatureMethod.ECDSA_SHA256
    signer = XMLSigner(
        method=signature_methods.detached,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    security.append(signer.sign(theirs, key=key, cert=cert.decode(), reference_uri=ids, id_attribute="Id"))
    assert verified(pinned, etree.tostring(theirs)) == "sopa"


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data())
def test_whatever_the_hub_accepts_after_a_change_signxml_accepts_too(dev_pki, verifier, data):
    """Change a signed message anywhere: the hub may accept it only if signxml would (a change of
    insignificant whitespace between elements, say); never a change signxml rejects."""
    original = signed_by(dev_pki, "sopa")
    start = data.draw(st.integers(0, len(original) - 1))
    end = data.draw(st.integers(start, min(len(original), start + 8)))
    changed = original[:start] + data.draw(st.binary(max_size=8)) + original[end:]
    try:
        root = HardenedParser(max_bytes=1 << 20, max_depth=32).parse(changed)
        accepted = verified(verifier, root) == "sopa"
    except (ValidationFailed, Unauthenticated):
        return
    assert accepted and signxml_verifies(etree.tostring(root), (dev_pki / "sopa.pem").read_bytes())


@pytest.mark.parametrize(("example", "signer"), [("signed-request.xml", "sopa"), ("signed-answer.xml", "hub")])
def test_the_examples_security_md_shows_verify_as_they_stand(example, signer):
    """SECURITY.md's complete example, a request and the hub's answer, is what the profile accepts."""
    data = (PROJECT_ROOT / "docs" / "examples" / example).read_bytes()
    message = parse_envelope(HardenedParser(max_bytes=1 << 20, max_depth=32).parse(data))
    carried = message.signature.findtext(".//{*}X509Certificate") or message.signature.getparent().findtext(
        "{*}BinarySecurityToken"
    )  # the request's signer put its certificate in ds:X509Data, the hub in a token
    certificate = x509.load_der_x509_certificate(base64.b64decode("".join(carried.split())))
    created = dt.datetime.fromisoformat(message.timestamp.findtext("{*}Created"))
    pinned = SignatureVerifier(TrustedCertificates.of({signer: [certificate]}))
    assert pinned.verify(message, now=created) == signer
