"""The one way the hub parses XML it did not write: no DTDs, no entities, no network, bounded.

libxml2 already refuses documents nested deeper than 256 levels; the hub's own limit is much
lower because no message it accepts is deeper than a dozen levels.

Attributes and namespace declarations are bounded per element and namespace declarations in total:
canonicalisation (for a signature's digest) costs the square of them on one element, and an
unauthenticated sender must not be able to buy seconds of CPU with a few hundred kilobytes.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

from lxml import etree

from hub.errors import ValidationFailed

_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parser objects must not be shared between threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_pis=True,
            remove_comments=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


class HardenedParser:
    """Parses untrusted bytes into an element tree or raises `ValidationFailed` saying why."""

    def __init__(
        self,
        *,
        max_bytes: int,
        max_depth: int,
        max_attributes: int = 32,
        max_namespaces_per_element: int = 32,
        max_namespaces: int = 4096,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_attributes = max_attributes
        self.max_namespaces_per_element = max_namespaces_per_element
        self.max_namespaces = max_namespaces
        self._too_deep = etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")
        # lxml stops collecting an element's attributes at the position asked for: cheap on any document
        self._too_many_attributes = etree.XPath(f"//@*[{max_attributes + 1}]/..")

    def parse(self, data: bytes) -> etree._Element:
        if len(data) > self.max_bytes:
            raise ValidationFailed.single(
                "(document)", "max-size", f"document is {len(data)} bytes, the limit is {self.max_bytes}"
            )
        if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"\x4c\x6f\xa7\x94")):
            raise ValidationFailed.single("(document)", "encoding", "only UTF-8 is accepted")
        declared = _DECLARED_ENCODING.match(data[:200].lstrip(b"\xef\xbb\xbf"))
        if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
            raise ValidationFailed.single(
                "(document)", "encoding", f"only UTF-8 is accepted, not {declared.group(1).decode('ascii')}"
            )
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise ValidationFailed.single("(document)", "dtd-forbidden", "DTDs and entity declarations are refused")
        self._namespace_declarations(data)
        try:
            root = etree.fromstring(data, _parser())
        except etree.XMLSyntaxError as exc:
            rule = "max-depth" if "depth" in str(exc.msg).lower() else "well-formed"
            raise ValidationFailed.single("(document)", rule, str(exc.msg), exc.lineno) from None
        tree = root.getroottree()
        if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
            raise ValidationFailed.single("(document)", "dtd-forbidden", "DTDs are refused")
        if self._too_deep(root):
            raise ValidationFailed.single(
                "(document)", "max-depth", f"elements are nested deeper than {self.max_depth} levels"
            )
        crowded = self._too_many_attributes(root)
        if crowded:
            element = crowded[0]
            raise ValidationFailed.single(
                "(document)",
                "max-attributes",
                f"an element ({etree.QName(element).localname}) has {len(element.attrib)} attributes, "
                f"the limit is {self.max_attributes}",
                element.sourceline,
            )
        return root

    def _namespace_declarations(self, data: bytes) -> None:
        """Counted in the bytes before parsing, where a bomb costs the least: every declaration holds
        `xmlns`, so the count bounds them (text holding the word would only count against its sender)."""
        total = data.count(b"xmlns")
        if total > self.max_namespaces:
            raise ValidationFailed.single(
                "(document)",
                "max-namespaces",
                f"{total} namespace declarations, the limit is {self.max_namespaces}",
            )
        if total <= self.max_namespaces_per_element:
            return
        per_tag: Counter[int] = Counter()
        at = data.find(b"xmlns")
        while at >= 0:
            per_tag[data.rfind(b"<", 0, at)] += 1  # the start tag each one stands in
            at = data.find(b"xmlns", at + 5)
        start, most = per_tag.most_common(1)[0]
        if most > self.max_namespaces_per_element:
            raise ValidationFailed.single(
                "(document)",
                "max-namespaces",
                f"an element declares {most} namespaces, the limit is {self.max_namespaces_per_element}",
                data.count(b"\n", 0, max(start, 0)) + 1,
            )
