"""Signed messages to attack: a partner's signed SOPA load, EP51 query and status question, and a way
to sign a changed SignedInfo again with the partner's real key, so that the one defect a test puts in
is the only thing wrong with the message."""

from __future__ import annotations

import base64
import copy
import hashlib
import random
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree

from adapters.sopa.dialect import from_canonical
from hub.simulation.records import RecordFactory
from hub.soap import HUB_NS, MessageHeader, build_envelope
from hub.soap.envelope import BODY, HEADER, MESSAGE_HEADER, SECURITY, SIGNATURE, TIMESTAMP
from hub.soap.signature import WSU_ID, Signer
from tests.helpers import RIGA

DS = "http://www.w3.org/2000/09/xmldsig#"


def load_body(seed: int = 1, records: int = 3) -> etree._Element:
    factory = RecordFactory(municipality=RIGA, record_prefix="A", decision_prefix="A", rng=random.Random(seed))
    return from_canonical(factory.batch(records), RIGA, f"ATTACK-{seed}")


def ep51_body(person_code: str = "120643-15908") -> etree._Element:
    query = etree.Element(
        "{urn:lv:vsaa:e-pakalpojumi:v1}EP51Pieprasijums", nsmap={"vsaa": "urn:lv:vsaa:e-pakalpojumi:v1"}
    )
    etree.SubElement(query, "{urn:lv:vsaa:e-pakalpojumi:v1}PersonasKods").text = person_code
    etree.SubElement(query, "{urn:lv:vsaa:e-pakalpojumi:v1}UzDatumu").text = "2026-11-02"
    return query


def status_body(receipt_id: str) -> etree._Element:
    question = etree.Element(f"{{{HUB_NS}}}GetStatus", nsmap={"hub": HUB_NS})
    etree.SubElement(question, f"{{{HUB_NS}}}ReceiptID").text = receipt_id
    return question


def signed(
    pki: Path,
    body: etree._Element,
    *,
    signer: str = "sopa",
    sender: str = "sopa",
    destination: str = "spolis",
    user_id: str = "rsd.soc.darbinieks.014",
    purpose: str | None = None,
    message_id: uuid.UUID | None = None,
) -> etree._Element:
    header = MessageHeader(
        message_id=message_id or uuid.uuid4(),
        message_type=MessageHeader.message_type_of(body),
        sender=sender,
        destination=destination,
        user_id=user_id,
        purpose=purpose,
    )
    root = etree.fromstring(build_envelope(body, header))
    Signer.from_files(pki / f"{signer}.key", pki / f"{signer}.pem", token=False).sign(root)
    return root


def signed_query(pki: Path, **kwargs) -> etree._Element:  # type: ignore[no-untyped-def]
    return signed(pki, ep51_body(), destination="vsaa", purpose="sociālās palīdzības lēmums", **kwargs)


def parts(root: etree._Element) -> dict[str, etree._Element]:
    header = root.find(HEADER)
    security = header.find(SECURITY)
    return {
        "header": header,
        "message_header": header.find(MESSAGE_HEADER),
        "security": security,
        "timestamp": security.find(TIMESTAMP),
        "signature": security.find(SIGNATURE),
        "signed_info": security.find(f"{SIGNATURE}/{{{DS}}}SignedInfo"),
        "body": root.find(BODY),
    }


def clone(element: etree._Element) -> etree._Element:
    return copy.deepcopy(element)


def c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def resign(
    root: etree._Element,
    pki: Path,
    *,
    signer: str = "sopa",
    digest: type[hashes.HashAlgorithm] = hashes.SHA256,
    redigest: bool = True,
) -> etree._Element:
    """Digest every reference again (SHA-256 over exclusive C14N, unless its DigestMethod says SHA-1)
    and sign SignedInfo again with the partner's key, as it now stands."""
    signed_info = parts(root)["signed_info"]
    if redigest:
        by_id = {e.get(WSU_ID): e for e in root.iter() if e.get(WSU_ID)}
        for reference in signed_info.iterfind(f"{{{DS}}}Reference"):
            element = by_id.get((reference.get("URI") or "")[1:])
            if element is None:
                continue
            sha1 = (reference.find(f"{{{DS}}}DigestMethod").get("Algorithm") or "").endswith("#sha1")
            value = (hashlib.sha1 if sha1 else hashlib.sha256)(c14n(element)).digest()
            reference.find(f"{{{DS}}}DigestValue").text = base64.b64encode(value).decode()
    key = load_pem_private_key((pki / f"{signer}.key").read_bytes(), password=None)
    value = key.sign(c14n(signed_info), padding.PKCS1v15(), digest())  # type: ignore[union-attr]
    signed_info.getparent().find(f"{{{DS}}}SignatureValue").text = base64.b64encode(value).decode()
    return root


def tostring(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
