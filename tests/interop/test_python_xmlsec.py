"""python-xmlsec (libxmlsec1), shaped as WSS4J/CXF sign by default: the certificate as a
wsse:BinarySecurityToken referenced from ds:KeyInfo through a wsse:SecurityTokenReference, exclusive
C14N with an ec:InclusiveNamespaces PrefixList on SignedInfo and on every reference. It signs the
partner's requests and verifies the hub's answers with the hub's certificate."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from tests.helpers.interop import SOAP_NS, WSSE_NS, WSU_NS, exchange

WSU_ID = f"{{{WSU_NS}}}Id"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"


def wss4j_like_signer(key_file: bytes, cert_pem: bytes, method):  # type: ignore[no-untyped-def]
    def sign(data: bytes) -> bytes:
        root = etree.fromstring(data)
        header = root.find(f"{{{SOAP_NS}}}Header")
        security = etree.Element(f"{{{WSSE_NS}}}Security", nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
        security.set(f"{{{SOAP_NS}}}mustUnderstand", "1")
        header.insert(0, security)
        token = etree.SubElement(security, f"{{{WSSE_NS}}}BinarySecurityToken", EncodingType=BASE64, ValueType=X509V3)
        token.set(WSU_ID, f"X509-{uuid.uuid4()}")
        token.text = base64.b64encode(x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER)).decode()
        timestamp = etree.SubElement(security, f"{{{WSU_NS}}}Timestamp")
        timestamp.set(WSU_ID, f"TS-{uuid.uuid4()}")
        now = dt.datetime.now(dt.UTC)
        etree.SubElement(timestamp, f"{{{WSU_NS}}}Created").text = now.isoformat(timespec="milliseconds")[:-6] + "Z"
        etree.SubElement(timestamp, f"{{{WSU_NS}}}Expires").text = (now + dt.timedelta(minutes=5)).isoformat(
            timespec="milliseconds"
        )[:-6] + "Z"

        signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, method, ns="ds")
        security.append(signature)
        c14n = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}CanonicalizationMethod")
        xmlsec.template.transform_add_c14n_inclusive_namespaces(c14n, ["soap", "wsse"])
        context = xmlsec.SignatureContext()
        for element, prefixes in (
            (timestamp, ["wsse", "soap"]),
            (header.find("{*}MessageHeader"), ["soap"]),
            (root.find(f"{{{SOAP_NS}}}Body"), []),
        ):
            if element.get(WSU_ID) is None:
                element.set(WSU_ID, f"id-{uuid.uuid4()}")
            reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{element.get(WSU_ID)}")
            transform = xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
            if prefixes:
                xmlsec.template.transform_add_c14n_inclusive_namespaces(transform, prefixes)
            context.register_id(element, "Id", WSU_NS)
        key_info = xmlsec.template.ensure_key_info(signature)
        reference = etree.SubElement(
            etree.SubElement(key_info, f"{{{WSSE_NS}}}SecurityTokenReference"), f"{{{WSSE_NS}}}Reference"
        )
        reference.set("URI", f"#{token.get(WSU_ID)}")
        reference.set("ValueType", X509V3)
        context.key = xmlsec.Key.from_memory(key_file, xmlsec.KeyFormat.PEM)
        context.sign(signature)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return sign


def xmlsec_verifier(hub_cert: bytes):  # type: ignore[no-untyped-def]
    def verify(data: bytes) -> None:
        root = etree.fromstring(data)
        context = xmlsec.SignatureContext()
        for element in root.iter():
            if element.get(WSU_ID):
                context.register_id(element, "Id", WSU_NS)
        context.key = xmlsec.Key.from_memory(hub_cert, xmlsec.KeyFormat.CERT_PEM)
        signature = root.find(f".//{{{DS_NS}}}Signature")
        context.verify(signature)
        uris = {r.get("URI")[1:] for r in signature.iter(f"{{{DS_NS}}}Reference")}
        body = root.find(f"{{{SOAP_NS}}}Body")
        assert body.get(WSU_ID) in uris and len(uris) == 3

    return verify


@pytest.mark.parametrize(
    ("key", "cert", "method"),
    [
        ("sopa.key", "sopa.pem", xmlsec.Transform.RSA_SHA256),
        ("sopa.key", "sopa.pem", xmlsec.Transform.RSA_SHA512),
        ("sopa-ec.key", "sopa.ec.pem", xmlsec.Transform.ECDSA_SHA256),
    ],
    ids=["rsa-sha256", "rsa-sha512", "ecdsa-sha256"],
)
def test_python_xmlsec_signs_as_wss4j_does_and_verifies_the_hub_s_answers(hub, key, cert, method):
    sign = wss4j_like_signer((hub.pki / key).read_bytes(), (hub.pki / cert).read_bytes(), method)
    done = list(exchange(hub, sign, xmlsec_verifier((hub.pki / "hub.pem").read_bytes())))
    assert done == ["load", "status", "query", "refused"]
