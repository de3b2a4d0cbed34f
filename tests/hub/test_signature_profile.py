"""The profile's every form, signed by python-xmlsec (libxmlsec1, an independent implementation) and
checked by the hub's verifier: each way of naming the certificate, InclusiveNamespaces prefix lists,
references without transforms, extra references; and the corners the verifier refuses rather than
canonicalise differently from the signer."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from hub.errors import ValidationFailed
from hub.soap import parse_envelope
from hub.soap.signature import SignatureVerifier, TrustedCertificates
from hub.soap.signature.trust import subject_key_identifier
from hub.xml.parser import HardenedParser
from tests.helpers.wsse import load_body

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
WSU_ID = f"{{{WSU}}}Id"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
SKI = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
THUMBPRINT = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


def envelope(
    *, envelope_attributes: str = "", default_namespace: bool = False, unprefixed_payload: bool = False
) -> etree._Element:
    body = etree.tostring(load_body(seed=5, records=2)).decode()
    if unprefixed_payload:  # the load in a default namespace of its own, as many serialisers write it
        body = body.replace("xmlns:sopa=", "xmlns=").replace("<sopa:", "<").replace("</sopa:", "</")
    default = ' xmlns="urn:a-default"' if default_namespace else ""
    text = (
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:wsu="{WSU}" xmlns:wsse="{WSSE}"{default} {envelope_attributes}>'
        "<soap:Header>"
        '<vh:MessageHeader xmlns:vh="urn:lv:welfare-hub:viss-header:v1">'
        f"<vh:MessageID>{uuid.uuid4()}</vh:MessageID>"
        "<vh:MessageType>urn:lv:riga:sopa:spolis:v1#DatuPakete</vh:MessageType>"
        "<vh:Sender>sopa</vh:Sender><vh:Destination>spolis</vh:Destination>"
        "<vh:UserId>rsd.soc.darbinieks.014</vh:UserId></vh:MessageHeader>"
        "</soap:Header>"
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )
    return etree.fromstring(text.encode())


def certificate(pki: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / "sopa.pem").read_bytes())


def der64(pki: Path) -> str:
    return base64.b64encode(certificate(pki).public_bytes(Encoding.DER)).decode()


def sign(
    pki: Path,
    root: etree._Element,
    *,
    key_info: Callable[[etree._Element, etree._Element, Path], None],
    prefixes: list[str] | None = None,
    transform: str | None = "exc",
    extra: bool = False,
) -> etree._Element:
    header = root.find(f"{{{SOAP}}}Header")
    security = etree.Element(f"{{{WSSE}}}Security")
    header.insert(0, security)
    timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
    now = dt.datetime.now(dt.UTC)
    etree.SubElement(timestamp, f"{{{WSU}}}Created").text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    security.append(signature)
    if prefixes is not None:
        xmlsec.template.transform_add_c14n_inclusive_namespaces(signature[0][0], prefixes)
    context = xmlsec.SignatureContext()
    targets = [timestamp, header.find("{*}MessageHeader"), root.find(f"{{{SOAP}}}Body")]
    key_info(signature, security, pki)
    if extra:
        targets.append(security.find(f"{{{WSSE}}}BinarySecurityToken"))
    for element in targets:
        if element.get(WSU_ID) is None:
            element.set(WSU_ID, f"id-{uuid.uuid4()}")
        reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{element.get(WSU_ID)}")
        if transform == "exc":
            added = xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
            if prefixes is not None:
                xmlsec.template.transform_add_c14n_inclusive_namespaces(added, prefixes)
        elif transform == "inclusive":
            xmlsec.template.add_transform(reference, xmlsec.Transform.C14N)
        context.register_id(element, "Id", WSU)
    context.key = xmlsec.Key.from_file(str(pki / "sopa.key"), xmlsec.KeyFormat.PEM)
    context.sign(signature)
    return etree.fromstring(etree.tostring(root))


def x509_certificate(signature, security, pki) -> None:  # type: ignore[no-untyped-def]
    data = etree.SubElement(etree.SubElement(signature, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    etree.SubElement(data, f"{{{DS}}}X509Certificate").text = der64(pki)


def issuer_serial(signature, security, pki, *, inside_a_reference: bool = False) -> None:  # type: ignore[no-untyped-def]
    info = etree.SubElement(signature, f"{{{DS}}}KeyInfo")
    parent = etree.SubElement(info, f"{{{WSSE}}}SecurityTokenReference") if inside_a_reference else info
    serial = etree.SubElement(etree.SubElement(parent, f"{{{DS}}}X509Data"), f"{{{DS}}}X509IssuerSerial")
    cert = certificate(pki)
    # Java's and .NET's way of writing the name: other order of parts, spaces after the commas
    issuer = ", ".join(reversed(cert.issuer.rfc4514_string().split(",")))
    etree.SubElement(serial, f"{{{DS}}}X509IssuerName").text = issuer
    etree.SubElement(serial, f"{{{DS}}}X509SerialNumber").text = str(cert.serial_number)


def binary_token(signature, security, pki) -> None:  # type: ignore[no-untyped-def]
    token = etree.SubElement(security, f"{{{WSSE}}}BinarySecurityToken", EncodingType=BASE64, ValueType=X509V3)
    token.set(WSU_ID, "X509-1")
    token.text = der64(pki)
    reference = etree.SubElement(
        etree.SubElement(etree.SubElement(signature, f"{{{DS}}}KeyInfo"), f"{{{WSSE}}}SecurityTokenReference"),
        f"{{{WSSE}}}Reference",
    )
    reference.set("URI", "#X509-1")
    reference.set("ValueType", X509V3)


def key_identifier(kind: str) -> Callable:
    def form(signature, security, pki) -> None:  # type: ignore[no-untyped-def]
        cert = certificate(pki)
        value = (
            subject_key_identifier(cert)
            if kind == SKI
            else hashlib.sha1(cert.public_bytes(Encoding.DER), usedforsecurity=False).digest()
        )
        identifier = etree.SubElement(
            etree.SubElement(etree.SubElement(signature, f"{{{DS}}}KeyInfo"), f"{{{WSSE}}}SecurityTokenReference"),
            f"{{{WSSE}}}KeyIdentifier",
            ValueType=kind,
            EncodingType=BASE64,
        )
        identifier.text = base64.b64encode(value).decode()

    form.__name__ = f"key_identifier_{kind.rsplit('#', 1)[1]}"
    return form


@pytest.fixture(scope="module")
def verifier(dev_pki: Path) -> SignatureVerifier:
    return SignatureVerifier(TrustedCertificates.from_dir(dev_pki, ["sopa", "lietis"]))


def verified(verifier: SignatureVerifier, root: etree._Element) -> str:
    data = etree.tostring(root)
    return verifier.verify(parse_envelope(HardenedParser(max_bytes=1 << 22, max_depth=32).parse(data)))


def refused(verifier: SignatureVerifier, root: etree._Element) -> str:
    with pytest.raises(ValidationFailed) as refusal:
        verified(verifier, root)
    return refusal.value.errors[0].rule


@pytest.mark.parametrize(
    "form",
    [
        x509_certificate,
        issuer_serial,
        lambda s, t, p: issuer_serial(s, t, p, inside_a_reference=True),
        binary_token,
        key_identifier(SKI),
        key_identifier(THUMBPRINT),
    ],
    ids=["X509Certificate", "X509IssuerSerial", "STR-X509IssuerSerial", "BinarySecurityToken", "SKI", "Thumbprint"],
)
def test_every_way_of_naming_a_pinned_certificate_is_accepted(dev_pki, verifier, form):
    assert verified(verifier, sign(dev_pki, envelope(), key_info=form)) == "sopa"


@pytest.mark.parametrize("prefixes", [["soap", "wsse"], ["soap", "wsu", "#default"], []])
@pytest.mark.parametrize("unprefixed_payload", [False, True])
def test_inclusive_namespace_prefix_lists_are_honoured(dev_pki, verifier, prefixes, unprefixed_payload):
    root = sign(dev_pki, envelope(unprefixed_payload=unprefixed_payload), key_info=binary_token, prefixes=prefixes)
    assert verified(verifier, root) == "sopa"


def test_a_prefix_list_naming_default_over_a_default_namespace_is_refused_not_misread(dev_pki, verifier):
    root = sign(dev_pki, envelope(default_namespace=True), key_info=binary_token, prefixes=["#default"])
    assert refused(verifier, root) == "transform-refused"


@pytest.mark.parametrize("transform", [None, "inclusive"], ids=["no-transforms", "inclusive-c14n"])
def test_references_in_inclusive_c14n_are_accepted_where_it_is_computed_as_specified(dev_pki, verifier, transform):
    assert verified(verifier, sign(dev_pki, envelope(), key_info=binary_token, transform=transform)) == "sopa"
    with_lang = envelope(envelope_attributes='xml:lang="lv"')
    assert (
        refused(verifier, sign(dev_pki, with_lang, key_info=binary_token, transform=transform)) == "transform-refused"
    )


def test_a_signature_may_also_cover_its_token(dev_pki, verifier):
    assert verified(verifier, sign(dev_pki, envelope(), key_info=binary_token, extra=True)) == "sopa"


def test_a_changed_token_under_a_covering_signature_is_refused(dev_pki, verifier, tmp_path):
    root = sign(dev_pki, envelope(), key_info=binary_token, extra=True)
    token = root.find(f".//{{{WSSE}}}BinarySecurityToken")
    token.set("Extra", "1")
    assert refused(verifier, root) == "signature-invalid"
