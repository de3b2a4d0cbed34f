"""The readers adapters take their dialect's elements apart with."""

from __future__ import annotations

from lxml import etree

from hub.xml.read import child, child_texts, texts_within

NS = "urn:example:dialect"


def test_child_texts_reads_the_direct_children_in_the_namespace_only():
    element = etree.fromstring(
        f'<r xmlns="{NS}" xmlns:o="urn:other"><A> 1 </A><!-- a note --><o:B>2</o:B><C/><D><E>3</E></D>'
        "<?pi x?><A>4</A></r>"
    )
    assert child_texts(element, NS) == {"A": "4", "C": "", "D": ""}


def test_child_is_the_first_direct_child_of_that_name():
    element = etree.fromstring(f'<r xmlns="{NS}"><D><A>nested</A></D><A>first</A><A>second</A></r>')
    assert child(element, NS, "A").text == "first"
    assert child(element, NS, "Missing") is None


def test_texts_within_reads_every_depth_in_the_namespace_only():
    element = etree.fromstring(
        f'<r xmlns="{NS}" xmlns:o="urn:other"><A> 1 </A><!-- a note --><o:B>2</o:B><D><E> 3 </E><o:F>4</o:F></D>'
        "<?pi x?><G/></r>"
    )
    assert texts_within(element, NS) == {"r": "", "A": "1", "D": "", "E": "3", "G": ""}
