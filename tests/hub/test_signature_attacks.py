"""An attacker's corpus against the gateway's way in, signatures required: signature wrapping (moved,
duplicated and nested Body, MessageHeader and Timestamp; Ids on other elements; a second Security
header; the signed part wrapped in a new header), algorithm downgrades, KeyInfo pointing elsewhere,
replays. Each is refused with its rule. Property-based tests: for any accepted message, whatever the
hub acts on (ids, sender, user, purpose, records) is what the partner signed; and no header field a
partner writes reaches the internal-error path."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.devpki import issue
from hub.errors import ValidationFailed
from hub.gateway.reader import Load, Query, RequestContext, StatusQuestion
from hub.gateway.reception import Copy, Reception, Staged, Taken
from hub.runtime import build
from hub.settings import PROJECT_ROOT, Settings
from hub.soap.envelope import BODY, MESSAGE_HEADER, SECURITY, SIGNATURE, TIMESTAMP, WSSE_NS
from hub.soap.header import VH_NS, MessageHeader
from hub.soap.signature import WSU_ID, Signer
from tests.helpers import examples
from tests.helpers import signed as signed_settings
from tests.helpers.wsse import DS, clone, load_body, parts, resign, signed, signed_query, status_body, tostring

X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"


@pytest.fixture(scope="module")
def reception(dev_pki: Path, tmp_path_factory) -> Reception:
    folder = tmp_path_factory.mktemp("attacks")
    files = {name: folder / name for name in ("store_key_file", "pseudonym_key_file", "audit_key_file")}
    settings = Settings(**signed_settings(dev_pki), store_url=f"sqlite:///{folder / 'hub.sqlite3'}", **files)
    return build(settings).reception()


def take(reception: Reception, system: str, data: bytes) -> Taken:
    return reception.take(RequestContext(system), data)


def refusal(reception: Reception, data: bytes | etree._Element, system: str = "sopa") -> tuple[str, str]:
    """The (field, rule) of the first error of the refusal; a refusal must be a ValidationFailed."""
    with pytest.raises(ValidationFailed) as refused:
        take(reception, system, tostring(data) if isinstance(data, etree._Element) else data)
    return refused.value.errors[0].field, refused.value.errors[0].rule


def rule_of(reception: Reception, root: etree._Element, system: str = "sopa") -> str:
    return refusal(reception, root, system)[1]


def test_the_untouched_messages_are_accepted(reception, dev_pki):
    assert isinstance(take(reception, "sopa", tostring(signed(dev_pki, load_body()))), Staged)
    assert isinstance(take(reception, "sopa", tostring(signed_query(dev_pki))), Query)


# -- signature wrapping ----------------------------------------------------------------------------


def forge_content(body: etree._Element) -> None:
    """Change what the Body says: an amount of a load, the person a query asks about."""
    leaf = body.find(".//{*}SummaEUR")
    if leaf is None:
        leaf = body.find(".//{*}PersonasKods")
    leaf.text = "9999.00" if leaf.tag.endswith("SummaEUR") else "010101-10003"


def second_header_after(root, pki):  # the hole that was: the gateway read the last one
    forged = clone(parts(root)["message_header"])
    del forged.attrib[WSU_ID]
    forged.find(f"{{{VH_NS}}}UserId").text = "attacker"
    forged.find(f"{{{VH_NS}}}MessageID").text = str(uuid.uuid4())
    parts(root)["header"].append(forged)


def second_header_before(root, pki):
    forged = clone(parts(root)["message_header"])
    forged.find(f"{{{VH_NS}}}UserId").text = "attacker"
    parts(root)["header"].insert(0, forged)


def signed_header_wrapped_forged_in_place(root, pki):
    original = parts(root)["message_header"]
    forged = clone(original)
    forged.find(f"{{{VH_NS}}}UserId").text = "attacker"
    wrapper = etree.Element("{urn:attacker}Wrapper")
    original.getparent().replace(original, forged)
    wrapper.append(original)
    parts(root)["header"].append(wrapper)


def signed_header_wrapped_first(root, pki):
    original = parts(root)["message_header"]
    forged = clone(original)
    del forged.attrib[WSU_ID]
    forged.find(f"{{{VH_NS}}}UserId").text = "attacker"
    wrapper = etree.Element("{urn:attacker}Wrapper")
    header = parts(root)["header"]
    header.replace(original, forged)
    wrapper.append(original)
    header.insert(0, wrapper)


def second_body_after(root, pki):
    forged = clone(root.find(BODY))
    del forged.attrib[WSU_ID]
    root.append(forged)


def signed_body_in_a_header_block(root, pki):
    body = root.find(BODY)
    forged = clone(body)
    forge_content(forged)
    wrapper = etree.SubElement(parts(root)["header"], "{urn:attacker}Wrapper")
    root.replace(body, forged)
    wrapper.append(body)


def signed_body_content_in_a_wrapper_inside_the_body(root, pki):
    body = root.find(BODY)
    content = body[0]
    wrapper = etree.SubElement(body, "{urn:attacker}Wrapper")
    forged = clone(content)
    body.replace(content, forged)
    wrapper.append(content)


def second_timestamp(root, pki):
    fresh = clone(parts(root)["timestamp"])
    del fresh.attrib[WSU_ID]
    parts(root)["security"].append(fresh)


def timestamp_moved_into_a_wrapper(root, pki):
    security = parts(root)["security"]
    timestamp = parts(root)["timestamp"]
    wrapper = etree.SubElement(security, "{urn:attacker}Wrapper")
    wrapper.append(timestamp)


def second_security_header(root, pki):
    parts(root)["header"].append(clone(parts(root)["security"]))


def security_nested_in_another_block(root, pki):
    security = parts(root)["security"]
    wrapper = etree.SubElement(parts(root)["header"], "{urn:attacker}Wrapper")
    wrapper.append(security)


def second_signature(root, pki):
    parts(root)["security"].append(clone(parts(root)["signature"]))


def signature_inside_the_body(root, pki):
    root.find(BODY)[0].append(clone(parts(root)["signature"]))


def body_id_on_a_forged_header_block(root, pki):
    """The Body's Id moved to a header block holding the signed content; the Body itself forged."""
    body = root.find(BODY)
    holder = etree.SubElement(parts(root)["header"], "{urn:attacker}Holder")
    holder.set(WSU_ID, body.get(WSU_ID))
    holder.append(clone(body[0]))
    del body.attrib[WSU_ID]
    forge_content(body)


def duplicate_id_on_a_payload_element(root, pki):
    body = root.find(BODY)
    body[0][0].set(WSU_ID, parts(root)["message_header"].get(WSU_ID))


def signature_id_equal_to_the_body_s(root, pki):
    parts(root)["signature"].set("Id", root.find(BODY).get(WSU_ID))


def second_envelope_inside_the_header(root, pki):
    inner = etree.SubElement(parts(root)["header"], "{http://schemas.xmlsoap.org/soap/envelope/}Envelope")
    inner.append(clone(root.find(BODY)))


@pytest.mark.parametrize(
    ("attack", "rules"),
    [
        (second_header_after, {"duplicate-element"}),
        (second_header_before, {"duplicate-element"}),
        (signed_header_wrapped_forged_in_place, {"duplicate-element"}),
        (signed_header_wrapped_first, {"misplaced-element"}),
        (second_body_after, {"duplicate-element"}),
        (signed_body_in_a_header_block, {"misplaced-element"}),
        (signed_body_content_in_a_wrapper_inside_the_body, {"single-body-element"}),
        (second_timestamp, {"duplicate-element"}),
        (timestamp_moved_into_a_wrapper, {"misplaced-element"}),
        (second_security_header, {"duplicate-element"}),
        (security_nested_in_another_block, {"misplaced-element"}),
        (second_signature, {"duplicate-element"}),
        (signature_inside_the_body, {"duplicate-element"}),
        (body_id_on_a_forged_header_block, {"signature-invalid", "signature-coverage"}),
        (duplicate_id_on_a_payload_element, {"duplicate-id"}),
        (signature_id_equal_to_the_body_s, {"duplicate-id"}),
        (second_envelope_inside_the_header, {"misplaced-element"}),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_signature_wrapping_is_refused(reception, dev_pki, attack: Callable, rules: set[str]):
    for root in (signed(dev_pki, load_body()), signed_query(dev_pki)):
        attack(root, dev_pki)
        assert rule_of(reception, root) in rules


def test_a_duplicate_names_the_element_and_where_the_second_stands(reception, dev_pki):
    root = signed(dev_pki, load_body())
    second_header_after(root, dev_pki)
    field, rule = refusal(reception, root)
    assert (field, rule) == ("Envelope/Header/MessageHeader", "duplicate-element")


# -- what the signature must cover, and how ----------------------------------------------------------


def drop_reference(name: str) -> Callable:
    def attack(root, pki):
        target = {"body": root.find(BODY), "header": parts(root)["message_header"], "ts": parts(root)["timestamp"]}
        signed_info = parts(root)["signed_info"]
        for reference in signed_info.iterfind(f"{{{DS}}}Reference"):
            if reference.get("URI") == f"#{target[name].get(WSU_ID)}":
                signed_info.remove(reference)
        resign(root, pki)

    attack.__name__ = f"no_reference_to_{name}"
    return attack


def reference_to_a_payload_element(root, pki):
    record = root.find(BODY)[0][0]
    record.set(WSU_ID, "inside")
    reference = clone(parts(root)["signed_info"].find(f"{{{DS}}}Reference"))
    reference.set("URI", "#inside")
    parts(root)["signed_info"].append(reference)
    resign(root, pki)


def whole_document_reference(root, pki):
    reference = parts(root)["signed_info"].find(f"{{{DS}}}Reference")
    reference.set("URI", "")
    resign(root, pki, redigest=False)


def xpointer_reference(root, pki):
    reference = parts(root)["signed_info"].find(f"{{{DS}}}Reference")
    reference.set("URI", "#xpointer(/)")
    resign(root, pki, redigest=False)


def the_body_referenced_twice(root, pki):
    signed_info = parts(root)["signed_info"]
    signed_info.append(clone(signed_info.find(f"{{{DS}}}Reference")))
    resign(root, pki)


@pytest.mark.parametrize(
    "attack",
    [
        drop_reference("body"),
        drop_reference("header"),
        drop_reference("ts"),
        reference_to_a_payload_element,
        whole_document_reference,
        xpointer_reference,
        the_body_referenced_twice,
    ],
    ids=lambda attack: attack.__name__,
)
def test_a_signature_that_does_not_cover_exactly_the_signed_parts_is_refused(reception, dev_pki, attack):
    root = signed(dev_pki, load_body())
    attack(root, dev_pki)
    assert refusal(reception, root) == ("Envelope/Header/Security/Signature/SignedInfo", "signature-coverage")


def set_algorithm(path: str, algorithm: str, *, digest=hashes.SHA256, redigest: bool = True) -> Callable:
    def attack(root, pki):
        for element in parts(root)["signed_info"].iterfind(path):
            element.set("Algorithm", algorithm)
        resign(root, pki, digest=digest, redigest=redigest)

    attack.__name__ = f"{path.rsplit('}', 1)[-1]}_{algorithm.rsplit('#', 1)[-1]}"
    return attack


def hmac_output_length(root, pki):
    method = parts(root)["signed_info"].find(f"{{{DS}}}SignatureMethod")
    etree.SubElement(method, f"{{{DS}}}HMACOutputLength").text = "8"
    resign(root, pki)


def two_transforms(root, pki):
    transforms = parts(root)["signed_info"].find(f"{{{DS}}}Reference/{{{DS}}}Transforms")
    transforms.append(clone(transforms[0]))
    resign(root, pki)


@pytest.mark.parametrize(
    ("attack", "rule"),
    [
        (set_algorithm(f"{{{DS}}}SignatureMethod", f"{DS}rsa-sha1", digest=hashes.SHA1), "algorithm-refused"),
        (set_algorithm(f"{{{DS}}}SignatureMethod", f"{DS}hmac-sha1"), "algorithm-refused"),
        (set_algorithm(f"{{{DS}}}SignatureMethod", f"{DS}dsa-sha1"), "algorithm-refused"),
        (
            set_algorithm(f"{{{DS}}}SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"),
            "algorithm-refused",
        ),
        (
            set_algorithm(f"{{{DS}}}SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
            "algorithm-refused",
        ),
        (set_algorithm(f"{{{DS}}}Reference/{{{DS}}}DigestMethod", f"{DS}sha1"), "algorithm-refused"),
        (hmac_output_length, "algorithm-refused"),
        (
            set_algorithm(f"{{{DS}}}CanonicalizationMethod", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"),
            "transform-refused",
        ),
        (set_algorithm(f"{{{DS}}}CanonicalizationMethod", "http://www.w3.org/2006/12/xml-c14n11"), "transform-refused"),
        (
            set_algorithm(f"{{{DS}}}CanonicalizationMethod", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"),
            "transform-refused",
        ),
        (set_algorithm(f".//{{{DS}}}Transform", "http://www.w3.org/TR/1999/REC-xpath-19991116"), "transform-refused"),
        (set_algorithm(f".//{{{DS}}}Transform", "http://www.w3.org/TR/1999/REC-xslt-19991116"), "transform-refused"),
        (set_algorithm(f".//{{{DS}}}Transform", f"{DS}enveloped-signature"), "transform-refused"),
        (two_transforms, "transform-refused"),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_algorithm_downgrades_and_foreign_transforms_are_refused(reception, dev_pki, attack, rule):
    root = signed(dev_pki, load_body())
    attack(root, dev_pki)
    assert rule_of(reception, root) == rule


# -- KeyInfo pointing elsewhere ------------------------------------------------------------------------


def key_info(root) -> etree._Element:
    return parts(root)["signature"].find(f"{{{DS}}}KeyInfo")


def token_reference(uri: str, *, where: str = "security") -> Callable:
    def attack(root, pki):
        info = key_info(root)
        certificate = info.findtext(f".//{{{DS}}}X509Certificate")
        info.clear()
        reference = etree.SubElement(
            etree.SubElement(info, f"{{{WSSE_NS}}}SecurityTokenReference"), f"{{{WSSE_NS}}}Reference"
        )
        reference.set("URI", uri)
        token = etree.Element(f"{{{WSSE_NS}}}BinarySecurityToken", ValueType=X509V3)
        token.set(WSU_ID, "token")
        token.text = certificate
        container = {"security": parts(root)["security"], "header": parts(root)["header"], "body": root.find(BODY)[0]}[
            where
        ]
        if where == "header":
            container = etree.SubElement(container, "{urn:attacker}Tokens")
        container.append(token)

    attack.__name__ = f"token_reference_{uri.strip('#') or 'empty'}_in_{where}"
    return attack


def key_value_instead_of_a_certificate(root, pki):
    info = key_info(root)
    info.clear()
    etree.SubElement(etree.SubElement(info, f"{{{DS}}}KeyValue"), f"{{{DS}}}RSAKeyValue")


def retrieval_method(root, pki):
    info = key_info(root)
    info.clear()
    etree.SubElement(info, f"{{{DS}}}RetrievalMethod", URI="http://127.0.0.1:9/cert.der")


def attacker_certificate_first_then_the_pinned_one(root, pki):
    _, cert = issue("sopa")
    data = key_info(root).find(f"{{{DS}}}X509Data")
    element = etree.Element(f"{{{DS}}}X509Certificate")
    element.text = base64.b64encode(x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)).decode()
    data.insert(0, element)


@pytest.mark.parametrize(
    ("attack", "rule"),
    [
        (token_reference("#token", where="header"), "certificate-required"),
        (token_reference("#token", where="body"), "certificate-required"),
        (token_reference("http://127.0.0.1:9/cert"), "certificate-required"),
        (token_reference("#elsewhere"), "certificate-required"),
        (key_value_instead_of_a_certificate, "certificate-required"),
        (retrieval_method, "certificate-required"),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_key_info_pointing_elsewhere_is_refused(reception, dev_pki, attack, rule):
    root = signed(dev_pki, load_body())
    attack(root, dev_pki)
    assert refusal(reception, root) == ("Envelope/Header/Security/Signature/KeyInfo", rule)


def test_the_pinned_certificate_carried_beside_an_attacker_s_key_proves_nothing(reception, dev_pki):
    key, cert = issue("sopa")
    root = signed(dev_pki, load_body())
    parts(root)["security"].getparent().remove(parts(root)["security"])
    Signer.from_pem(key, cert, token=False).sign(root)  # the attacker's own key ...
    data = key_info(root).find(f"{{{DS}}}X509Data")
    data.find(f"{{{DS}}}X509Certificate").text = etree.fromstring(tostring(signed(dev_pki, load_body()))).findtext(
        f".//{{{DS}}}X509Certificate"
    )  # ... beside SOPA's pinned certificate
    assert rule_of(reception, root) == "signature-invalid"
    attacker_certificate_first_then_the_pinned_one(root, dev_pki)
    assert rule_of(reception, root) == "signature-invalid"


def test_a_message_signed_by_one_partner_and_sent_as_another_is_refused(reception, dev_pki):
    root = signed(dev_pki, load_body(), signer="lietis")
    assert refusal(reception, root) == ("Envelope/Header/MessageHeader/Sender", "signer-mismatch")


# -- replays and time ----------------------------------------------------------------------------------


def test_a_query_or_status_question_replayed_byte_for_byte_is_refused(reception, dev_pki):
    query = tostring(signed_query(dev_pki))
    assert isinstance(take(reception, "sopa", query), Query)
    assert refusal(reception, query) == ("Envelope/Header/MessageHeader/MessageID", "message-id-replayed")
    question = tostring(signed(dev_pki, status_body(str(uuid.uuid4()))))
    assert isinstance(take(reception, "sopa", question), StatusQuestion)
    assert refusal(reception, question)[1] == "message-id-replayed"


def test_a_query_signed_again_under_a_used_message_id_is_refused(reception, dev_pki):
    message_id = uuid.uuid4()
    assert isinstance(take(reception, "sopa", tostring(signed_query(dev_pki, message_id=message_id))), Query)
    assert rule_of(reception, signed_query(dev_pki, message_id=message_id)) == "message-id-replayed"


def test_the_same_message_id_from_another_partner_is_its_own(reception, dev_pki):
    message_id = uuid.uuid4()
    assert isinstance(take(reception, "sopa", tostring(signed_query(dev_pki, message_id=message_id))), Query)
    lietis = signed_query(dev_pki, message_id=message_id, signer="lietis", sender="lietis")
    assert isinstance(take(reception, "lietis", tostring(lietis)), Query)


def test_a_load_replayed_byte_for_byte_is_staged_under_the_same_ids(reception, dev_pki):
    """Its records keep their message ids, by which the worker and the targets know them (the gateway
    then answers with the receipt it gave: tests/integration/test_attacks_from_outside.py)."""
    load = tostring(signed(dev_pki, load_body(seed=99)))
    first = take(reception, "sopa", load)
    assert isinstance(first, Staged)
    assert isinstance(take(reception, "sopa", load), Copy)  # the first holds the load's claim: it waits
    reception.store.add_receipt(first.receipt, "u.1")  # the first is published and given its receipt
    again = take(reception, "sopa", load)
    assert isinstance(again, Staged) and again.resend and again.receipt.receipt_id == first.receipt.receipt_id
    ids = [[r.get("messageId") for r in etree.fromstring(s.answer).iter("{*}Record")] for s in (first, again)]
    assert ids[0] == ids[1] and len(ids[0]) == 3


@pytest.mark.parametrize(("minutes", "rule"), [(-10, "timestamp-expired"), (10, "timestamp-future")])
def test_stale_and_future_timestamps_are_refused(reception, dev_pki, minutes, rule):
    root = signed(dev_pki, load_body())
    parts(root)["security"].getparent().remove(parts(root)["security"])
    Signer.from_files(dev_pki / "sopa.key", dev_pki / "sopa.pem").sign(
        root, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    )
    assert refusal(reception, root) == ("Envelope/Header/Security/Timestamp", rule)


# -- properties ----------------------------------------------------------------------------------------

PLACES = ("envelope", "header", "security", "body", "content", "message_header", "wrapper")
MOVABLE = ("message_header", "timestamp", "body", "content", "security", "signature", "record")


def _element(root: etree._Element, name: str) -> etree._Element | None:
    found = parts_or_none(root)
    return {
        "envelope": root,
        "header": found.get("header"),
        "security": found.get("security"),
        "body": root.find(BODY),
        "content": root.find(BODY)[0] if root.find(BODY) is not None and len(root.find(BODY)) else None,
        "record": root.find(f"{BODY}/*/*"),
        "message_header": found.get("message_header"),
        "timestamp": found.get("timestamp"),
        "signature": found.get("signature"),
        "wrapper": None,
    }[name]


def parts_or_none(root: etree._Element) -> dict[str, etree._Element]:
    header = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
    security = header.find(SECURITY) if header is not None else None
    return {
        "header": header,
        "message_header": header.find(MESSAGE_HEADER) if header is not None else None,
        "security": security,
        "timestamp": security.find(TIMESTAMP) if security is not None else None,
        "signature": security.find(SIGNATURE) if security is not None else None,
    }


def mutate(root: etree._Element, draw) -> None:  # type: ignore[no-untyped-def]
    operation = draw(st.sampled_from(["copy", "move", "wrap", "remove", "retext", "id", "swap"]))
    element = _element(root, draw(st.sampled_from(MOVABLE)))
    if element is None or element is root:
        return
    if operation in ("copy", "move"):
        target_name = draw(st.sampled_from(PLACES))
        target = _element(root, target_name)
        if target_name == "wrapper" or target is None:
            header = _element(root, "header")
            if header is None:
                return
            target = etree.SubElement(header, "{urn:attacker}Wrapper")
        if any(ancestor is element for ancestor in [target, *target.iterancestors()]):
            return
        moved = clone(element) if operation == "copy" else element
        if operation == "copy" and draw(st.booleans()) and WSU_ID in moved.attrib:
            del moved.attrib[WSU_ID]
        target.insert(draw(st.integers(0, len(target))), moved)
    elif operation == "wrap":
        parent = element.getparent()
        wrapper = etree.Element("{urn:attacker}Wrapper")
        parent.replace(element, wrapper)
        wrapper.append(element)
    elif operation == "remove" and element.getparent() is not None:
        element.getparent().remove(element)
    elif operation == "retext":
        leaves = [e for e in element.iter() if len(e) == 0 and isinstance(e.tag, str)]
        if leaves:
            draw(st.sampled_from(leaves)).text = draw(
                st.sampled_from(["attacker", "9999.00", str(uuid.uuid4()), "lietis"])
            )
    elif operation == "id":
        other = _element(root, draw(st.sampled_from(MOVABLE)))
        if other is not None and other.get(WSU_ID):
            element.set(WSU_ID, other.get(WSU_ID))
    elif operation == "swap":
        parent = element.getparent()
        if parent is not None and len(parent) > 1:
            index = parent.index(element)
            other = parent[(index + 1) % len(parent)]
            if other is not element:
                parent.replace(other, clone(element))
                parent.replace(element, other)


def acted_on(read: Load | Query | StatusQuestion) -> dict[str, object]:
    """Everything an accepted request makes the hub do something with."""
    values: dict[str, object] = {"header": read.header.model_dump(), "kind": type(read).__name__}
    if isinstance(read, Load):
        values["rows"] = [(r.record_index, r.record_id, r.target, r.type) for r in read.rows]
        values["body"] = read.body_sha256
        values["records"] = [(e["target"], e["message_id"], e["payload"]) for e in read.envelopes]
    elif isinstance(read, Query):
        values["query"] = (read.envelope.payload, read.envelope.user_id, read.envelope.target)
    else:
        values["status"] = (read.receipt_id, read.message_id)
    return values


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_whatever_an_accepted_message_makes_the_hub_act_on_was_signed(reception, dev_pki, data):
    """Move, copy, wrap, remove or change any part of a signed load or query, any number of times: if
    the hub still accepts the message, everything it acts on equals what the partner signed."""
    message_id = uuid.uuid4()
    original = (
        signed(dev_pki, load_body(seed=7), message_id=message_id)
        if data.draw(st.booleans())
        else signed_query(dev_pki, message_id=message_id)
    )
    attacked = clone(original)
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(attacked, data.draw)
    reader = reception.reader
    try:
        accepted = reader.read(RequestContext("sopa"), tostring(attacked))
    except ValidationFailed:
        return
    assert acted_on(accepted) == acted_on(reader.read(RequestContext("sopa"), tostring(original)))


HEADER_FIELDS = ("MessageID", "MessageType", "CorrelationID", "Sender", "Destination", "UserId", "Purpose", "Issue")
XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff"), max_size=300
).filter(lambda text: all(ch in "\t\n\r" or ord(ch) >= 0x20 for ch in text))


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(HEADER_FIELDS), value=XML_TEXT | st.sampled_from(["", " ", "   ", "\n\t", "x" * 201]))
def test_no_header_field_reaches_the_internal_error_path(reception, dev_pki, field, value):
    """Whatever a signed header field holds, the answer is a result or a refusal naming a field and rule."""
    root = signed_query(dev_pki)
    message_header = parts(root)["message_header"]
    parts(root)["security"].getparent().remove(parts(root)["security"])
    element = message_header.find(f"{{{VH_NS}}}{field}")
    if element is None:
        element = etree.SubElement(message_header, f"{{{VH_NS}}}{field}")
    element.text = value
    Signer.from_files(dev_pki / "sopa.key", dev_pki / "sopa.pem").sign(root)
    try:
        reception.reader.read(RequestContext("sopa"), tostring(root))
    except ValidationFailed as refused:
        assert all(error.field and error.rule for error in refused.errors)


def test_a_gvs_export_holding_two_versions_of_one_decision_is_accepted_signed_as_it_is_unsigned(
    reception, dev_pki, reader
):
    """GVS records carry an `id` attribute; two versions of one decision share it. Only the Ids a
    signature can reference (wsu:Id) must be unique."""
    sample = (PROJECT_ROOT / "schemas" / "gvs" / "samples" / "valid" / "benefits.xml").read_bytes()
    export = etree.fromstring(sample).find(f"{BODY}")[0]
    client = export.find("{urn:lv:lm:gvs:eksports:v1}Klients")
    corrected = clone(client)
    corrected.find(".//{urn:lv:lm:gvs:eksports:v1}SummaCenti").text = "10500"
    client.addnext(corrected)
    root = signed(dev_pki, export, signer="gvs", sender="gvs", user_id="kandava.soc.darbiniece.02")
    ids = [p.get("id") for p in root.iter("{urn:lv:lm:gvs:eksports:v1}Pabalsts")]
    assert len(ids) != len(set(ids))
    assert isinstance(take(reception, "gvs", tostring(root)), Staged)
    unsigned = clone(root)
    parts(unsigned)["header"].remove(parts(unsigned)["security"])
    assert isinstance(reader.read(RequestContext("gvs"), tostring(unsigned)), Load)  # what `hub contract check` says


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [("UserId", "   ", "min-length"), ("MessageID", "not-a-uuid", "pattern"), ("Sender", "SOPA!", "pattern")],
)
def test_a_header_the_model_refuses_is_a_refusal_naming_the_field_and_rule(field, value, rule):
    """The model's own checks, behind the schema's: never the internal-error path."""
    element = a_header()
    element.find(f"{{{VH_NS}}}{field}").text = value
    with pytest.raises(ValidationFailed) as refused:
        MessageHeader.from_element(element)
    assert [(e.field, e.rule) for e in refused.value.errors] == [(f"Envelope/Header/MessageHeader/{field}", rule)]


def a_header() -> etree._Element:
    return MessageHeader(
        message_id=uuid.uuid4(),
        message_type="urn:lv:vsaa:e-pakalpojumi:v1#EP51Pieprasijums",
        sender="sopa",
        destination="vsaa",
        user_id="u",
    ).to_element()
