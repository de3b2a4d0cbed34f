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
