"""XSD validation on lxml, translating libxml2's error log into field paths and rule names.

libxml2 reports positions as `/*/*[2]/*[1]`; partners need `DatuPakete/Pabalsti/Pabalsts[2]/Summa`
and a rule they can look up, so every error is rewritten here, once.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree

from hub.errors import FieldError

_FACET = re.compile(r"\[facet '(\w+)'\]")
_ATTRIBUTE = re.compile(r"^Element '[^']*', attribute '([^']+)'")
_MISSING_ATTRIBUTE = re.compile(r"The attribute '([^']+)' is required but missing")
_UNEXPECTED_ATTRIBUTE = re.compile(r"The attribute '([^']+)' is not allowed")
_EXPECTED_ONE = re.compile(r"Expected is \( (?:\{[^}]*\})?([\w.-]+) \)")
_ELEMENT_NAME = re.compile(r"^Element '(?:\{[^}]*\})?([\w.-]+)'")
# A long offending value as libxml2 quotes it (maybe cut); the Fault caps what the regex misses.
_LONG_VALUE = re.compile(r"'([^'\s]{60})[^'\s]{20,}'?")

_RULE_BY_TYPE = {
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "type",
    "SCHEMAV_CVC_ENUMERATION_VALID": "enumeration",
    "SCHEMAV_CVC_TYPE_3_1_1": "no-children-allowed",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "no-text-allowed",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "no-text-allowed",
    "SCHEMAV_CVC_ELT_1": "unknown-element",
}


def _readable_path(node: etree._Element, top: etree._Element) -> str:
    """`Name[i]` steps from `top` down to `node`; the index only where siblings share the name."""
    steps: list[str] = []
    current: etree._Element | None = node
    while current is not None:
        name = etree.QName(current).localname
        parent = current.getparent()
        if current is not top and parent is not None:
            same = [c for c in parent if c.tag == current.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(current) + 1}]"
        steps.append(name)
        if current is top:
            break
        current = parent
    return "/".join(reversed(steps))


_STEP = re.compile(r"^(?:([\w.-]+):)?([\w.-]+|\*)(?:\[(\d+)\])?$")


def _node_at(top: etree._Element, libxml_path: str | None) -> etree._Element:
    """Follow libxml2's path (`/p:Root/p:Child[2]/*[1]`) down from the validated element, its root."""
    node = top
    for step in (libxml_path or "").strip("/").split("/")[1:]:
        match = _STEP.match(step)
        if match is None:
            break
        prefix, name, index = match.groups()
        if name == "*":
            candidates = [c for c in node if isinstance(c.tag, str)]
        else:
            namespace = node.nsmap.get(prefix)
            candidates = node.findall(f"{{{namespace}}}{name}" if namespace else name)
        position = int(index or 1) - 1
        if position >= len(candidates):
            break
        node = candidates[position]
    return node


def field_error_from_log(entry: etree._LogEntry, top: etree._Element) -> FieldError:
    node = _node_at(top, entry.path)
    field = _readable_path(node, top)
    message = _LONG_VALUE.sub(lambda m: f"'{m.group(1)}…'", entry.message)
    line = node.sourceline if node is not None else entry.line

    if m := _MISSING_ATTRIBUTE.search(message):
        return FieldError(f"{field}/@{m.group(1)}", "required", f"attribute {m.group(1)} is required", line)
    if m := _UNEXPECTED_ATTRIBUTE.search(message):
        return FieldError(f"{field}/@{m.group(1)}", "unexpected-attribute", message, line)
    if m := _ATTRIBUTE.search(message):
        field = f"{field}/@{m.group(1)}"
    if "Missing child element" in message:
        expected = _EXPECTED_ONE.search(message)
        if expected:
            return FieldError(f"{field}/{expected.group(1)}", "required", f"{expected.group(1)} is missing", line)
        return FieldError(field, "required", message, line)
    if "This element is not expected" in message:
        expected = _EXPECTED_ONE.search(message)
        found = _ELEMENT_NAME.search(message)
        if expected and found and expected.group(1) != found.group(1):
            parent = field.rsplit("/", 1)[0]
            return FieldError(
                f"{parent}/{expected.group(1)}",
                "required",
                f"{expected.group(1)} is missing ({found.group(1)} found in its place)",
                line,
            )
        return FieldError(field, "unexpected-element", message, line)
    if m := _FACET.search(message):
        return FieldError(field, m.group(1), message, line)
    return FieldError(field, _RULE_BY_TYPE.get(entry.type_name, "schema"), message, line)


_COMPILING = threading.Lock()


class Schema:
    """A compiled XSD (with its imports) that validates elements, not only whole documents.

    lxml keeps the error log on the schema object, so each thread gets its own compiled copy. Copies
    are compiled one at a time, as a precaution: once, a worker thread's compile of a valid schema
    failed with names read as namespaces ("The attribute 'http://www.w3.org/2001/XMLSchema' is not
    allowed"), as if libxml2's shared strings had been changed under it; it has not been reproduced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._compiled()  # fail at start-up, not on the first message

    def _compiled(self) -> etree.XMLSchema:
        schema = getattr(self._local, "schema", None)
        if schema is None:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            with _COMPILING:
                schema = etree.XMLSchema(etree.parse(str(self.path), parser))
            self._local.schema = schema
        return schema

    def errors(self, element: etree._Element, *, limit: int = 100) -> list[FieldError]:
        """Every schema violation in `element`, as field errors; empty when it is valid."""
        schema = self._compiled()
        if schema.validate(element):
            return []
        return [field_error_from_log(entry, element) for entry in list(schema.error_log)[:limit]]

    def is_valid(self, element: etree._Element) -> bool:
        return bool(self._compiled().validate(element))
