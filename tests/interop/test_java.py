"""The JDK's own XML-DSig (JSR 105, no external jars) in java/PartnerClient.java, shaped as Apache
WSS4J/CXF sign by default: the certificate as a wsse:BinarySecurityToken referenced from ds:KeyInfo
through a wsse:SecurityTokenReference, exclusive C14N with InclusiveNamespaces PrefixLists, the
Signature before the Timestamp. It signs the partner's requests (RSA-SHA256 and ECDSA-SHA256) and
verifies the hub's answers with the hub's certificate. One JVM per test serves every command, because
starting one costs about a second."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.helpers import required_tool
from tests.helpers.interop import SOAP_NS, WSU_NS, JavaPartner, answer_of, exchange, java_signer, pkcs8_der, unsigned

SOURCE = Path(__file__).parent / "java" / "PartnerClient.java"
WSU_ID = f"{{{WSU_NS}}}Id"


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[JavaPartner]:
    client = JavaPartner(required_tool("java", "default-jdk-headless"), SOURCE, tmp_path, "serve")
    yield client
    client.close()


def java_verifier(partner: JavaPartner, hub_cert: Path):  # type: ignore[no-untyped-def]
    def verify(data: bytes) -> None:
        result = partner.call("verify", partner.file(data, "answer"), hub_cert)
        if not result["valid"]:
            raise AssertionError(f"the JDK refuses the answer's signature: {result}")
        assert result["body"] == answer_of(data)[0], result
        # Body, Timestamp and the echoed MessageHeader: the header's reference is checked by the JDK.
        assert len(result["references"]) == 3, result

    return verify


def the_shape_of(signed: bytes) -> None:
    """What makes this WSS4J's form rather than the hub's own, so a change in the Java cannot quietly
    fall back to X509Data."""
    root = etree.fromstring(signed)
    security = root.find(f"{{{SOAP_NS}}}Header")[0]
    names = [etree.QName(child).localname for child in security]
    assert names == ["BinarySecurityToken", "Signature", "Timestamp"], names
    key_info = security.find("{*}Signature/{*}KeyInfo")
    reference = key_info.find("{*}SecurityTokenReference/{*}Reference")
    assert reference.get("URI") == f"#{security[0].get(WSU_ID)}"
    prefixes = [e.get("PrefixList") for e in security.iterfind(".//{http://www.w3.org/2001/10/xml-exc-c14n#}*")]
    assert prefixes == ["soap wsse", "wsse soap", "soap"], prefixes  # SignedInfo, Timestamp, MessageHeader


@pytest.mark.parametrize(
    ("key", "cert", "method"),
    [("sopa.key", "sopa.pem", "rsa-sha256"), ("sopa-ec.key", "sopa.ec.pem", "ecdsa-sha256")],
    ids=["rsa-sha256", "ecdsa-sha256"],
)
def test_the_jdk_signs_as_wss4j_does_and_verifies_the_hub_s_answers(hub, partner, tmp_path, key, cert, method):
    sign = java_signer(partner, pkcs8_der(hub.pki / key, tmp_path), hub.pki / cert)
    sample = sign(unsigned("load"))
    the_shape_of(sample)
    assert f'Algorithm="http://www.w3.org/2001/04/xmldsig-more#{method}"'.encode() in sample
    done = list(exchange(hub, sign, java_verifier(partner, hub.pki / "hub.pem")))
    assert done == ["load", "status", "query", "refused"]


def test_the_hub_refuses_what_changed_after_the_jdk_signed_it(hub, partner, tmp_path):
    """Posted with java.net.http: first as signed, then with one byte of the Body changed."""
    sign = java_signer(partner, pkcs8_der(hub.pki / "sopa.key", tmp_path), hub.pki / "sopa.pem")
    url, hub_cert = f"{hub.url}/soap/sopa", hub.pki / "hub.pem"

    request, answer = partner.file(sign(unsigned("load")), "signed"), tmp_path / "receipt.xml"
    result = partner.call("post", url, request, hub_cert, answer)
    assert (result["status"], result["valid"], result["body"]) == (200, True, "Receipt"), result

    signed = sign(unsigned("load"))
    changed = signed.replace(b"<sopa:SummaEUR>311.88<", b"<sopa:SummaEUR>311.89<", 1)
    assert changed != signed
    answer = tmp_path / "fault.xml"
    result = partner.call("post", url, partner.file(changed, "changed"), hub_cert, answer)
    assert (result["status"], result["valid"], result["body"]) == (500, True, "Fault"), result
    assert answer_of(answer.read_bytes()) == ("Fault", "signature-invalid"), answer.read_bytes()[:2000]
    # The hub's answer to a sender it could not authenticate echoes no header: Body and Timestamp.
    assert len(result["references"]) == 2, result

    tampered = partner.file(answer.read_bytes().replace(b"signature-invalid", b"signature-lnvalid", 1), "tampered")
    assert partner.call("verify", tampered, hub_cert)["valid"] is False


def test_the_jdk_s_default_http_client_is_heard(hub, partner, tmp_path):
    """It offers an h2c upgrade over http:// (Connection: Upgrade, HTTP2-Settings); the hub answers in
    HTTP/1.1, body and all (uvicorn's httptools protocol lost the body: uvicorn#2722)."""
    sign = java_signer(partner, pkcs8_der(hub.pki / "sopa.key", tmp_path), hub.pki / "sopa.pem")
    answer = tmp_path / "answer.xml"
    result = partner.call(
        "post-default",
        f"{hub.url}/soap/sopa",
        partner.file(sign(unsigned("load")), "signed"),
        hub.pki / "hub.pem",
        answer,
    )
    assert (result["status"], answer_of(answer.read_bytes())) == (200, ("Receipt", None)), answer.read_bytes()[:2000]
