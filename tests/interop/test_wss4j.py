"""Apache WSS4J itself (1.6, Debian's libwss4j-java) in java/Wss4jPartner.java: it signs a partner's
requests with its own defaults (RSA-SHA256 and ECDSA-SHA256) and verifies the hub's answers as CXF's
WSS4JInInterceptor does, trusting the hub's certificate through its trust store. WSS4J verifies a
signature only when ds:KeyInfo holds a wsse:SecurityTokenReference, which is why the hub sends its
certificate as a BinarySecurityToken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from hub.soap.signature import Signer
from tests.helpers import missing, required_tool
from tests.helpers.interop import SOAP_NS, JavaPartner, answer_of, exchange, java_signer, pkcs8_der, unsigned

SOURCE = Path(__file__).parent / "java" / "Wss4jPartner.java"
# WSS4J and what it needs at run time, where Debian's packages put them
JARS = [
    Path("/usr/share/java") / f"{name}.jar"
    for name in ("wss4j", "xmlsec", "commons-logging", "commons-codec", "slf4j-api", "slf4j-nop")
]


@pytest.fixture
def wss4j(tmp_path: Path) -> Iterator[JavaPartner]:
    java = required_tool("java", "default-jdk-headless")
    if absent := [jar.name for jar in JARS if not jar.is_file()]:
        missing(f"WSS4J is not installed: no {', '.join(absent)} (Debian's libwss4j-java; .ci/run installs it)")
    partner = JavaPartner(java, SOURCE, tmp_path, classpath=JARS)
    yield partner
    partner.close()


def wss4j_verifier(wss4j: JavaPartner, hub_cert: Path):  # type: ignore[no-untyped-def]
    def verify(data: bytes) -> None:
        result = wss4j.call("verify", wss4j.file(data, "answer"), hub_cert)  # raises when WSS4J refuses it
        assert result["hubSigned"] and "Timestamp" in result["actions"], result
        assert sorted(result["covered"]) == ["Body", "MessageHeader", "Timestamp"], result

    return verify


@pytest.mark.parametrize(
    ("key", "cert"), [("sopa.key", "sopa.pem"), ("sopa-ec.key", "sopa.ec.pem")], ids=["rsa-sha256", "ecdsa-sha256"]
)
def test_wss4j_signs_what_the_hub_accepts_and_verifies_the_hub_s_answers(hub, wss4j, tmp_path, key, cert):
    sign = java_signer(wss4j, pkcs8_der(hub.pki / key, tmp_path), hub.pki / cert)
    security = etree.fromstring(sign(unsigned("load"))).find(f"{{{SOAP_NS}}}Header")[0]
    assert security.find("{*}BinarySecurityToken") is not None  # WSS4J's own form, not the hub's
    done = list(exchange(hub, sign, wss4j_verifier(wss4j, hub.pki / "hub.pem")))
    assert done == ["load", "status", "query", "refused"]


def test_the_hub_refuses_what_changed_after_wss4j_signed_it(hub, wss4j, tmp_path):
    sign = java_signer(wss4j, pkcs8_der(hub.pki / "sopa.key", tmp_path), hub.pki / "sopa.pem")
    signed = sign(unsigned("load"))
    changed = signed.replace(b"<sopa:SummaEUR>311.88<", b"<sopa:SummaEUR>311.89<", 1)
    assert changed != signed
    status, answer = hub.post(changed)
    assert (status, answer_of(answer)) == (500, ("Fault", "signature-invalid")), answer[:2000]
    assert hub.post(signed)[0] == 200


def test_wss4j_verifies_no_certificate_outside_a_token_reference(hub, wss4j, tmp_path):
    """The hub's answer signed again with its certificate in ds:X509Data (signxml's and zeep's form):
    WSS4J refuses it, so the hub must not answer that way."""
    sign = java_signer(wss4j, pkcs8_der(hub.pki / "sopa.key", tmp_path), hub.pki / "sopa.pem")
    status, answer = hub.post(sign(unsigned("load")))
    assert status == 200, answer[:2000]
    root = etree.fromstring(answer)
    security = root.find(f"{{{SOAP_NS}}}Header")[0]
    security.getparent().remove(security)
    Signer.from_files(hub.pki / "hub.key", hub.pki / "hub.pem", token=False).sign(root)
    with pytest.raises(RuntimeError, match="SecurityTokenReference was required"):
        wss4j.call("verify", wss4j.file(etree.tostring(root), "x509data"), hub.pki / "hub.pem")
