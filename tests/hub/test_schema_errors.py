"""libxml2's validation errors come back as dialect paths and rule names."""

from lxml import etree

from hub.xml.schema import Schema

XSD = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t"
  elementFormDefault="qualified">
<xs:element name="Load"><xs:complexType><xs:sequence>
  <xs:element name="Item" maxOccurs="10"><xs:complexType><xs:sequence>
    <xs:element name="Code"><xs:simpleType><xs:restriction base="xs:string">
      <xs:pattern value="[0-9]{6}-[0-9]{5}"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="Amount"><xs:simpleType><xs:restriction base="xs:decimal">
      <xs:minInclusive value="0"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="Date" type="xs:date"/>
  </xs:sequence><xs:attribute name="id" type="xs:string" use="required"/></xs:complexType></xs:element>
</xs:sequence></xs:complexType></xs:element></xs:schema>"""


def errors_for(tmp_path, body: bytes):
    path = tmp_path / "t.xsd"
    path.write_bytes(XSD)
    doc = etree.fromstring(b'<E xmlns="urn:env"><B>' + body + b"</B></E>")
    return {(e.field, e.rule) for e in Schema(path).errors(doc[0][0])}


def test_fields_are_named_by_path_with_index_only_among_siblings(tmp_path):
    body = (
        b'<Load xmlns="urn:t"><Item id="a"><Code>1</Code><Amount>-5</Amount><Date>2026-13-01</Date></Item>'
        b"<Item><Code>123456-12345</Code><Date>2026-01-01</Date></Item></Load>"
    )
    assert errors_for(tmp_path, body) == {
        ("Load/Item[1]/Code", "pattern"),
        ("Load/Item[1]/Amount", "minInclusive"),
        ("Load/Item[1]/Date", "type"),
        ("Load/Item[2]/@id", "required"),
        ("Load/Item[2]/Amount", "required"),
    }


def test_unexpected_and_missing_elements(tmp_path):
    body = (
        b'<Load xmlns="urn:t"><Item id="a"><Code>123456-12345</Code><Amount>1</Amount>'
        b"<Date>2026-01-01</Date><Extra/></Item></Load>"
    )
    assert errors_for(tmp_path, body) == {("Load/Item/Extra", "unexpected-element")}
    assert errors_for(tmp_path, b'<Load xmlns="urn:t"><Item id="a"><Code>123456-12345</Code></Item></Load>') == {
        ("Load/Item/Amount", "required")
    }
