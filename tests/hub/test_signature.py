"""Signatures prove who sent a message: a valid one over exactly the Body, the VISS header and a
fresh timestamp, by a certificate pinned for a system. Everything else is refused, naming why."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

from hub.devpki import issue
from hub.errors import Unauthenticated
from hub.settings import PROJECT_ROOT
from hub.soap.signature import WSU_ID, SignatureVerifier, Signer, TrustedCertificates

SAMPLE = (PROJECT_ROOT / "schemas" / "sopa" / "samples" / "valid" / "benefits.xml").read_bytes()
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"


@pytest.fixture(scope="module")
def verifier(dev_pki: Path) -> SignatureVerifier:
    return SignatureVerifier(TrustedCertificates.from_dir(dev_pki, ["sopa", "lietis"]))


def signed_by(pki: Path, system: str, *, now: dt.datetime | None = None) -> bytes:
    root = etree.fromstring(SAMPLE)
    Signer.from_files(pki / f"{system}.key", pki / f"{system}.pem").sign(root, now=now)
    return etree.tostring(root)


def refusal(verifier: SignatureVerifier, data: bytes, **kwargs) -> tuple[str, str]:
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(etree.fromstring(data), **kwargs)
    (error,) = refused.value.errors
    return error.field, error.rule


def test_a_signed_message_names_its_sender(dev_pki, verifier):
    assert verifier.verify(etree.fromstring(signed_by(dev_pki, "sopa"))) == "sopa"
    assert verifier.verify(etree.fromstring(signed_by(dev_pki, "lietis"))) == "lietis"


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
    assert refusal(verifier, etree.tostring(root)) == ("Envelope", "duplicate-id")


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
    assert trusted.verify(root) == "sopa"
    assert trusted.verify(etree.fromstring(signed_by(dev_pki, "sopa"))) == "sopa"
