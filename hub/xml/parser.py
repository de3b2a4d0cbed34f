"""The one way the hub parses XML it did not write: no DTDs, no entities, no network, bounded.

libxml2 already refuses documents nested deeper than 256 levels; the hub's own limit is much
lower because no message it accepts is deeper than a dozen levels.
"""

from __future__ import annotations

import re
import threading

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

    def __init__(self, *, max_bytes: int, max_depth: int) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._too_deep = etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")

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
        return root
