"""The hardened parser refuses DTDs, entities, other encodings, oversize and overdeep input."""

import pytest

from hub.errors import ValidationFailed
from hub.xml.parser import HardenedParser

PARSER = HardenedParser(max_bytes=100_000, max_depth=8)


def rule_of(data: bytes) -> str:
    with pytest.raises(ValidationFailed) as caught:
        PARSER.parse(data)
    return caught.value.errors[0].rule


def test_plain_document_parses():
    assert PARSER.parse(b"<?xml version='1.0' encoding='UTF-8'?><a><b>x</b></a>").tag == "a"


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b'<!DOCTYPE a [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;&l0;">]><a>&l1;</a>',
        b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>',
        b'<?xml version="1.0"?>\n<!DOCTYPE a><a/>',
    ],
)
def test_dtds_and_entities_are_refused(data):
    assert rule_of(data) == "dtd-forbidden"


def test_other_encodings_are_refused():
    assert rule_of('<?xml version="1.0" encoding="ISO-8859-1"?><a/>'.encode("latin-1")) == "encoding"
    assert rule_of("<a/>".encode("utf-16")) == "encoding"


def test_size_and_depth_limits():
    assert rule_of(b"<a>" + b"x" * 200_000 + b"</a>") == "max-size"
    assert rule_of(b"<a>" * 9 + b"</a>" * 9) == "max-depth"
    assert PARSER.parse(b"<a>" * 8 + b"</a>" * 8) is not None
    assert rule_of(b"<a>" * 2000 + b"</a>" * 2000) == "max-depth"


def test_broken_xml_names_its_line():
    with pytest.raises(ValidationFailed) as caught:
        PARSER.parse(b"<a>\n<b></a>")
    error = caught.value.errors[0]
    assert error.rule == "well-formed" and error.line == 2


def test_attributes_and_namespace_declarations_are_bounded_per_element_and_in_total():
    """Canonicalising one element costs the square of its attributes and declarations: a few hundred
    kilobytes of them once cost seconds of CPU before a signature could be checked."""
    parser = HardenedParser(
        max_bytes=1 << 20, max_depth=8, max_attributes=4, max_namespaces_per_element=3, max_namespaces=6
    )
    attributes = " ".join(f'a{i}="1"' for i in range(5))
    with pytest.raises(ValidationFailed) as refused:
        parser.parse(f"<a>\n<b {attributes}/></a>".encode())
    assert (refused.value.errors[0].rule, refused.value.errors[0].line) == ("max-attributes", 2)
    fewer = " ".join(f'a{i}="1"' for i in range(4))
    assert parser.parse(f"<a><b {fewer}/></a>".encode()) is not None

    declarations = " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(4))
    with pytest.raises(ValidationFailed) as refused:
        parser.parse(f"<a>\n\n<b {declarations}/></a>".encode())
    assert (refused.value.errors[0].rule, refused.value.errors[0].line) == ("max-namespaces", 3)
    spread = "".join(f'<b xmlns:p="urn:{i}"/>' for i in range(6))
    assert parser.parse(f"<a>{spread}</a>".encode()) is not None  # 6 in all, one an element
    with pytest.raises(ValidationFailed) as refused:
        parser.parse(f'<a xmlns:q="urn:q">{spread}</a>'.encode())
    assert refused.value.errors[0].rule == "max-namespaces"  # 7 in the request


def test_a_bomb_of_attributes_is_refused_before_it_is_canonicalised():
    parser = HardenedParser(max_bytes=8 << 20, max_depth=32)
    attributes = " ".join(f'a{i}="1"' for i in range(100_000))
    with pytest.raises(ValidationFailed) as refused:
        parser.parse(f"<a><b {attributes}/></a>".encode())
    assert refused.value.errors[0].rule == "max-attributes"
    declarations = " ".join(f'xmlns:p{i}="urn:p{i}"' for i in range(150_000))
    with pytest.raises(ValidationFailed) as refused:
        parser.parse(f"<a><b {declarations}/></a>".encode())
    assert refused.value.errors[0].rule == "max-namespaces"
