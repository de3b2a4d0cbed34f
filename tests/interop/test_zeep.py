"""zeep, the SOAP client Python integrators use, built from the WSDL the hub serves: its
`wsse.BinarySignature` (a BinarySecurityToken) and `wsse.Signature` (the certificate in ds:X509Data
inside a SecurityTokenReference) sign the requests, and the hub's answers are verified on every reply.

zeep 4.3 signs the Body and the wsu:Timestamp only, and verifies replies with the client's own
certificate; SECURITY.md gives the few lines below that add the VISS MessageHeader to what is signed
and verify replies with the hub's certificate (`HubSignature`): this test runs exactly those."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import xmlsec
import zeep
from lxml import etree
from zeep import ns
from zeep.exceptions import Fault, SignatureVerificationFailed
from zeep.wsse.signature import BinarySignature, Signature, _make_sign_key, _make_verify_key, _verify_envelope_with_key
from zeep.wsse.utils import WSU, ensure_id, get_security_header

from tests.helpers.interop import HUB_NS, SOAP_NS, unsigned

VH_NS = "urn:lv:welfare-hub:viss-header:v1"


def hub_signature(base: type[Signature]) -> type[Signature]:
    class HubSignature(base):  # type: ignore[valid-type,misc]
        """zeep's signature, over the VISS MessageHeader too, verifying replies with the hub's certificate."""

        def __init__(self, key_file: str, cert_file: str, hub_cert_file: str) -> None:
            super().__init__(key_file, cert_file, None, xmlsec.Transform.RSA_SHA256, xmlsec.Transform.SHA256)
            with open(hub_cert_file, "rb") as file:
                self.hub_cert = file.read()
            self.verified: list[bytes] = []

        def apply(self, envelope, headers):  # type: ignore[no-untyped-def]
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            get_security_header(envelope).append(  # zeep signs a wsu:Timestamp when there is one
                WSU.Timestamp(
                    WSU.Created(now.isoformat().replace("+00:00", "Z")),
                    WSU.Expires((now + dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z")),
                )
            )
            envelope, headers = super().apply(envelope, headers)
            signature = envelope.find(f".//{{{ns.DS}}}Signature")
            message_header = envelope.find(f"{{{SOAP_NS}}}Header/{{{VH_NS}}}MessageHeader")
            reference = xmlsec.template.add_reference(
                signature, self.digest_method, uri="#" + ensure_id(message_header)
            )
            xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
            context = xmlsec.SignatureContext()
            context.key = _make_sign_key(self.key_data, self.cert_data, self.password)
            for element in envelope.iter():
                if element.get(f"{{{ns.WSU}}}Id"):
                    context.register_id(element, "Id", ns.WSU)
            context.sign(signature)  # again, now over the header too
            return envelope, headers

        def verify(self, envelope):  # type: ignore[no-untyped-def]
            _verify_envelope_with_key(envelope, _make_verify_key(self.hub_cert))
            self.verified.append(etree.tostring(envelope))
            return envelope

    return HubSignature


def call(client: zeep.Client, data: bytes):  # type: ignore[no-untyped-def]
    """Send the request `data` holds through zeep's generated operation for its body."""
    envelope = etree.fromstring(data)
    body = envelope.find(f"{{{SOAP_NS}}}Body")[0]
    header = envelope.find(f"{{{SOAP_NS}}}Header/{{{VH_NS}}}MessageHeader")
    (operation,) = [
        name
        for name, op in client.service._binding._operations.items()
        if op.input.body is not None and op.input.body.qname == body.tag
    ]
    make_header = client.get_element(header.tag)
    parsed = make_header.parse(header, client.wsdl.types)
    values = client.get_element(body.tag).parse(body, client.wsdl.types)
    result = getattr(client.service, operation)(
        _soapheaders=[make_header(**{key: parsed[key] for key in parsed})], **{key: values[key] for key in values}
    )
    return result.body if hasattr(result, "body") else result  # the answer's header comes along


@pytest.mark.parametrize("base", [BinarySignature, Signature], ids=["BinarySignature", "Signature"])
def test_zeep_signs_requests_the_hub_accepts_and_verifies_every_answer(hub, base):
    wsse = hub_signature(base)(str(hub.pki / "sopa.key"), str(hub.pki / "sopa.pem"), str(hub.pki / "hub.pem"))
    client = zeep.Client(f"{hub.url}/soap/sopa?wsdl", wsse=wsse)
    receipt = call(client, unsigned("load"))
    assert receipt.RecordCount == len(receipt.Record) > 0
    status = call(client, unsigned("status", receipt_id=receipt.ReceiptID))
    assert status.ReceiptID == receipt.ReceiptID
    answer = call(client, unsigned("query"))
    assert answer is not None
    with pytest.raises(Fault) as refused:
        call(client, unsigned("refused"))
    assert "person-code-checksum" in etree.tostring(refused.value.detail).decode()
    assert len(wsse.verified) == 4  # every answer, the Fault too, was verified
    tampered = re.sub(rb"<hub:ReceiptID>", b"<hub:ReceiptID>0", wsse.verified[0], count=1)
    assert tampered != wsse.verified[0]
    with pytest.raises(SignatureVerificationFailed):
        wsse.verify(etree.fromstring(tampered))


def rules_of(fault: Fault) -> list[tuple[str, str]]:
    return [
        (e.findtext(f"{{{HUB_NS}}}Field"), e.findtext(f"{{{HUB_NS}}}Rule"))
        for e in fault.detail.iter(f"{{{HUB_NS}}}Error")
    ]


def test_zeep_as_it_ships_is_refused_saying_what_its_signature_lacks(hub):
    """Without a timestamp, and then with one but without the VISS header signed: each refusal says so."""

    class WithTimestamp(BinarySignature):
        def apply(self, envelope, headers):  # type: ignore[no-untyped-def]
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            get_security_header(envelope).append(WSU.Timestamp(WSU.Created(now.isoformat().replace("+00:00", "Z"))))
            return super().apply(envelope, headers)

    expected = [
        ("Envelope/Header/Security/Timestamp", "required"),
        ("Envelope/Header/Security/Signature/SignedInfo", "signature-coverage"),
    ]
    for wsse_class, refusal in zip((BinarySignature, WithTimestamp), expected, strict=True):
        wsse = wsse_class(
            str(hub.pki / "sopa.key"),
            str(hub.pki / "sopa.pem"),
            None,
            xmlsec.Transform.RSA_SHA256,
            xmlsec.Transform.SHA256,
        )
        wsse.verify = lambda envelope: envelope  # as shipped it would verify with the client's own certificate
        with pytest.raises(Fault) as refused:
            call(zeep.Client(f"{hub.url}/soap/sopa?wsdl", wsse=wsse), unsigned("load"))
        assert rules_of(refused.value) == [refusal]
        assert "MessageHeader" in refused.value.message or refusal[1] == "required"
