"""The xmlsec1 command (libxmlsec1 over OpenSSL, Debian's package): it signs the partner's requests from
a signature template written into the envelope (the certificate filled into ds:X509Data), and verifies
the hub's answers with the key of the hub's certificate alone, ignoring the certificate the answer
carries. xmlsec1 knows nothing of wsu:Id, so every element signed by Id is named with --id-attr."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from lxml import etree

from tests.helpers import required_tool
from tests.helpers.interop import SOAP_NS, WSU_NS, answer_of, exchange, security_header, unsigned

WSU_ID = f"{{{WSU_NS}}}Id"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
VH_NS = "urn:lv:welfare-hub:viss-header:v1"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
# xmlsec1 resolves "#id" only through attributes it was told are IDs: `Id` of these elements (it matches
# the attribute by local name, so wsu:Id), the namespace and the element's name split at the last colon.
ID_ATTRIBUTES = [
    arg
    for element in (f"{SOAP_NS}:Body", f"{VH_NS}:MessageHeader", f"{WSU_NS}:Timestamp")
    for arg in ("--id-attr:Id", element)
]


def _ds(parent: etree._Element, name: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{DS_NS}}}{name}", attributes)


def template(data: bytes, *, method: str, transforms: bool = True, envelope_attributes: dict | None = None) -> bytes:
    """The envelope with a wsse:Security header holding a fresh wsu:Timestamp and a ds:Signature template
    for xmlsec1 to fill: three references by wsu:Id (each with an exclusive C14N transform, or with no
    Transforms at all, which means inclusive C14N 1.0), empty digests and value, an empty certificate."""
    root = etree.fromstring(data)
    for name, value in (envelope_attributes or {}).items():
        root.set(name, value)
    header = root.find(f"{{{SOAP_NS}}}Header")
    security, timestamp = security_header(root)
    signature = etree.SubElement(security, f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS})
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _ds(signed_info, "SignatureMethod", Algorithm=method)
    for element in (root.find(f"{{{SOAP_NS}}}Body"), header.find(f"{{{VH_NS}}}MessageHeader"), timestamp):
        element.set(WSU_ID, f"id-{uuid.uuid4()}")
        reference = _ds(signed_info, "Reference", URI=f"#{element.get(WSU_ID)}")
        if transforms:
            _ds(_ds(reference, "Transforms"), "Transform", Algorithm=EXC_C14N)
        _ds(reference, "DigestMethod", Algorithm=SHA256)
        _ds(reference, "DigestValue")
    _ds(signature, "SignatureValue")
    _ds(_ds(_ds(signature, "KeyInfo"), "X509Data"), "X509Certificate")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def xmlsec1_signer(tool: str, folder: Path, key: Path, cert: Path, method: str, **shape):  # type: ignore[no-untyped-def]
    def sign(data: bytes) -> bytes:
        name = uuid.uuid4().hex
        source, signed = folder / f"{name}.template.xml", folder / f"{name}.signed.xml"
        source.write_bytes(template(data, method=method, **shape))
        result = subprocess.run(
            [tool, "--sign", "--privkey-pem", f"{key},{cert}", *ID_ATTRIBUTES, "--output", str(signed), str(source)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"xmlsec1 --sign failed: {result.stderr[-1500:]}")
        return signed.read_bytes()

    return sign


def xmlsec1_verifier(tool: str, folder: Path, hub_cert: Path):  # type: ignore[no-untyped-def]
    """Verifies with the hub certificate's key: `--enabled-key-data key-name` leaves the answer's
    ds:X509Data unread, so xmlsec1 takes the one key it was given (a message signed by another key
    fails, which a check against the carried certificate would not catch)."""

    def verify(data: bytes) -> None:
        answer = folder / f"{uuid.uuid4().hex}.answer.xml"
        answer.write_bytes(data)
        result = subprocess.run(
            [tool, "--verify", "--pubkey-cert-pem", str(hub_cert), "--enabled-key-data", "key-name", *ID_ATTRIBUTES]
            + [str(answer)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise AssertionError(f"xmlsec1 refuses the answer: {result.stderr[-1500:]}")
        # The Body, the Timestamp and the echoed MessageHeader; a Fault to an unauthenticated request
        # echoes no header, and its signature covers the other two.
        root = etree.fromstring(data)
        header = root.find(f"{{{SOAP_NS}}}Header")
        signed = [root.find(f"{{{SOAP_NS}}}Body"), header.find(f".//{{{WSU_NS}}}Timestamp")]
        signed += header.findall(f"{{{VH_NS}}}MessageHeader")
        uris = [r.get("URI") for r in root.iter(f"{{{DS_NS}}}Reference")]
        assert sorted(uris) == sorted(f"#{element.get(WSU_ID)}" for element in signed), uris
        assert f"SignedInfo References (ok/all): {len(signed)}/{len(signed)}" in result.stderr, result.stderr

    return verify


@pytest.fixture
def xmlsec1() -> str:
    return required_tool("xmlsec1", "xmlsec1")


def test_the_verifier_uses_the_hub_s_certificate_not_the_one_a_message_carries(interop_pki, xmlsec1, tmp_path):
    forged = xmlsec1_signer(xmlsec1, tmp_path, interop_pki / "sopa.key", interop_pki / "sopa.pem", RSA_SHA256)(
        unsigned("load")
    )
    xmlsec1_verifier(xmlsec1, tmp_path, interop_pki / "sopa.pem")(forged)  # the form itself verifies
    with pytest.raises(AssertionError, match="xmlsec1 refuses"):
        xmlsec1_verifier(xmlsec1, tmp_path, interop_pki / "hub.pem")(forged)


@pytest.mark.parametrize(
    ("key", "cert", "method"),
    [("sopa.key", "sopa.pem", RSA_SHA256), ("sopa-ec.key", "sopa.ec.pem", ECDSA_SHA256)],
    ids=["rsa-sha256", "ecdsa-sha256"],
)
def test_xmlsec1_signs_requests_the_hub_accepts_and_verifies_its_answers(hub, xmlsec1, tmp_path, key, cert, method):
    sign = xmlsec1_signer(xmlsec1, tmp_path, hub.pki / key, hub.pki / cert, method)
    done = list(exchange(hub, sign, xmlsec1_verifier(xmlsec1, tmp_path, hub.pki / "hub.pem")))
    assert done == ["load", "status", "query", "refused"]


def test_references_without_transforms_mean_inclusive_c14n_which_the_hub_accepts(hub, xmlsec1, tmp_path):
    sign = xmlsec1_signer(xmlsec1, tmp_path, hub.pki / "sopa.key", hub.pki / "sopa.pem", RSA_SHA256, transforms=False)
    assert b"<ds:Transforms>" not in sign(unsigned("load"))
    done = list(exchange(hub, sign, xmlsec1_verifier(xmlsec1, tmp_path, hub.pki / "hub.pem")))
    assert done == ["load", "status", "query", "refused"]


def test_inclusive_c14n_under_an_xml_attribute_is_refused_not_misverified(hub, xmlsec1, tmp_path):
    """Inclusive C14N of the Body inherits the Envelope's xml:lang, which lxml's C14N of one element
    leaves out: the hub says so instead of computing another digest than xmlsec1 did."""
    sign = xmlsec1_signer(
        xmlsec1,
        tmp_path,
        hub.pki / "sopa.key",
        hub.pki / "sopa.pem",
        RSA_SHA256,
        transforms=False,
        envelope_attributes={"{http://www.w3.org/XML/1998/namespace}lang": "lv"},
    )
    status, answer = hub.post(sign(unsigned("load")))
    assert (status, answer_of(answer)) == (500, ("Fault", "transform-refused")), answer[:2000]
    assert b"MessageHeader" not in answer  # the hub echoes no header it could not authenticate
    xmlsec1_verifier(xmlsec1, tmp_path, hub.pki / "hub.pem")(answer)


def test_the_hub_refuses_a_request_changed_after_xmlsec1_signed_it(hub, xmlsec1, tmp_path):
    sign = xmlsec1_signer(xmlsec1, tmp_path, hub.pki / "sopa.key", hub.pki / "sopa.pem", RSA_SHA256)
    signed = sign(unsigned("load"))
    status, answer = hub.post(signed)
    assert answer_of(answer) == ("Receipt", None), answer[:2000]

    signed = sign(unsigned("load"))
    changed = signed.replace(b"<sopa:SummaEUR>311.88<", b"<sopa:SummaEUR>311.89<", 1)
    assert changed != signed
    status, answer = hub.post(changed)
    assert (status, answer_of(answer)) == (500, ("Fault", "signature-invalid")), answer[:2000]
    assert b"MessageHeader" not in answer  # the hub echoes no header it could not authenticate
    xmlsec1_verifier(xmlsec1, tmp_path, hub.pki / "hub.pem")(answer)
