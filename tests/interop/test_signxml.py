"""signxml, an independent XML-DSig implementation in Python: it signs the partner's requests with
the certificate in ds:X509Data (RSA-SHA256, and ECDSA-SHA256 with SOPA's EC key) and verifies the hub's
answers with the hub's certificate."""

from __future__ import annotations

import uuid

import pytest
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLSigner, XMLVerifier
from signxml import methods as signature_methods
from signxml.algorithms import CanonicalizationMethod

from tests.helpers.interop import SOAP_NS, WSU_NS, exchange, security_header

WSU_ID = f"{{{WSU_NS}}}Id"


def with_security_header(data: bytes) -> tuple[etree._Element, etree._Element, list[str]]:
    """The envelope with a wsse:Security header holding a fresh wsu:Timestamp, and the wsu:Ids of the
    three elements to sign."""
    root = etree.fromstring(data)
    security, timestamp = security_header(root)
    header = root.find(f"{{{SOAP_NS}}}Header")
    ids = []
    for element in (root.find(f"{{{SOAP_NS}}}Body"), header.find("{*}MessageHeader"), timestamp):
        element.set(WSU_ID, f"id-{uuid.uuid4()}")
        ids.append(f"#{element.get(WSU_ID)}")
    return root, security, ids


def signxml_signer(key: bytes, cert: bytes, method: SignatureMethod):  # type: ignore[no-untyped-def]
    def sign(data: bytes) -> bytes:
        root, security, ids = with_security_header(data)
        signer = XMLSigner(
            method=signature_methods.detached,
            signature_algorithm=method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        security.append(signer.sign(root, key=key, cert=cert.decode(), reference_uri=ids, id_attribute="Id"))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return sign


def signxml_verifier(hub_cert: bytes):  # type: ignore[no-untyped-def]
    def verify(data: bytes) -> None:
        root = etree.fromstring(data)
        results = XMLVerifier().verify(
            root,
            x509_cert=hub_cert.decode(),
            id_attribute="Id",
            expect_config=SignatureConfiguration(expect_references=3),
        )
        signed = {etree.QName(result.signed_xml).localname for result in results}
        assert signed == {"Body", "MessageHeader", "Timestamp"}

    return verify


@pytest.mark.parametrize(
    ("key", "cert", "method"),
    [
        ("sopa.key", "sopa.pem", SignatureMethod.RSA_SHA256),
        ("sopa-ec.key", "sopa.ec.pem", SignatureMethod.ECDSA_SHA256),
    ],
)
def test_signxml_signs_requests_the_hub_accepts_and_verifies_its_answers(hub, key, cert, method):
    sign = signxml_signer((hub.pki / key).read_bytes(), (hub.pki / cert).read_bytes(), method)
    done = list(exchange(hub, sign, signxml_verifier((hub.pki / "hub.pem").read_bytes())))
    assert done == ["load", "status", "query", "refused"]
