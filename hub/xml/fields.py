"""Field tables: where each canonical field of a dialect's record sits in its XML, said once.

Reading a record, writing it back and naming a field in an error all come from the one table, so a
name changed in one of them cannot leave the others behind. A table is compiled once, at import,
into the plain lists its per-record loops walk, so that reading by table does no lookups per record:
the mapping is the largest part of the gateway's per-record CPU.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import groupby
from typing import Any

from lxml import etree

SELF = "."
"""In `group`, the group element's own text."""

_Format = Callable[[Any], str]


@dataclass(frozen=True)
class Field:
    """One canonical field and where it sits below its record's element.

    `path` is `Name` (a child's text), `@name` (an attribute of the record's element), `Name/@name`
    (a child's attribute) or `Name/Name` (a grandchild's text). `codes` maps the dialect's codes to
    canonical values (written back by the inverse); `read` and `write` convert anything else.
    `many` takes every `Name` child, as a list; `table` takes the child as a nested model of its own.
    `also` names canonical fields that carry the same value (and the same path in errors);
    `attributes` are written with the element as they are (a currency that is always EUR)."""

    name: str
    path: str
    codes: Mapping[str, Any] | None = None
    read: Callable[[Any], Any] | None = None
    write: _Format | None = None
    many: bool = False
    table: Table | None = None
    also: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The XML names the field spells: elements, attributes (without `@`), constant attributes."""
        return [part.lstrip("@") for part in self.path.split("/") if part != SELF] + list(self.attributes)


def group(element: str, *fields: Field) -> tuple[Field, ...]:
    """The fields of one child element (`Lemums`), so its name is spelled once; `SELF` is its own text."""
    return tuple(replace(f, path=element if f.path == SELF else f"{element}/{f.path}") for f in fields)


def _decimal(value: Decimal) -> str:
    return f"{value:.2f}"


def _boolean(value: bool) -> str:
    return "true" if value else "false"


_FORMATS: dict[type, _Format] = {
    str: str,
    bool: _boolean,
    int: str,
    Decimal: _decimal,  # the canonical decimals are money and hours, exchanged with two decimals
    dt.datetime: dt.datetime.isoformat,  # before date, which it is too
    dt.date: dt.date.isoformat,
}
_CONVERT: dict[type, _Format | None] = {**_FORMATS, str: None}
"""What the writing loops look up by a value's exact type: None for a str, its own text."""


def _format(value: object) -> str:
    """A canonical value as XML text, unless its field converts it itself."""
    for kind, format_ in _FORMATS.items():
        if isinstance(value, kind):
            return format_(value)
    return str(value)


# a child to write: (kind, canonical name, Clark tag, converter, extra), the extra being the
# constant attributes of a text, the node of a nested element or the fields of a flat group
_TEXT, _FLAT, _GROUP, _MANY, _NESTED, _NESTED_MANY = range(6)
_Child = tuple[int, str, str, _Format | None, Any]
# an element to write: its attributes (canonical name, attribute, converter), its own text, its children
_Node = tuple[list[tuple[str, str, _Format | None]], list[tuple[str, _Format | None]], list[_Child]]


def _writer(field_: Field) -> _Format | None:
    if field_.write is not None:
        return field_.write
    if field_.codes is not None:
        return {value: code for code, value in field_.codes.items()}.__getitem__
    return None


def _reader(field_: Field) -> Callable[[Any], Any] | None:
    if field_.read is not None:
        return field_.read
    if field_.codes is not None:
        return field_.codes.get
    return None


class Table:
    """The fields of one record kind of one dialect (or of a nested element), in the schema's order.

    `paths` (canonical field -> path) is what `RecordCollector.add` takes as `fields`. With
    `omit_missing`, an absent element leaves its field out (the model's default applies) instead of
    giving it None; with `strip=False` texts are read as they are."""

    def __init__(self, namespace: str, *fields: Field, omit_missing: bool = False, strip: bool = True) -> None:
        self.namespace = namespace
        self.fields = fields
        self.omit_missing = omit_missing
        self.strip = strip
        self.paths: dict[str, str] = {}
        for f in fields:
            for name in (f.name, *f.also):
                if name in self.paths:
                    raise ValueError(f"{name} is in the table twice")
                self.paths[name] = f.path
        self._compile_read()
        self._node = self._compile_write(fields)

    def _clark(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}"

    # -- reading -----------------------------------------------------------------------------------

    def _compile_read(self) -> None:
        fields = self.fields
        self._converts = [(f.name, convert) for f in fields if not f.many and (convert := _reader(f)) is not None]
        self._also = [(f.name, other) for f in fields for other in f.also]
        self._by_text = all("@" not in f.path and not f.many and f.table is None for f in fields)
        if self._by_text:
            # every field is an element's text: one pass over the texts
            keys = [self._clark(f.path.rsplit("/", 1)[-1]) for f in fields]
            if len(set(keys)) != len(keys):
                raise ValueError(f"two fields end in the same element name: {keys}")
            self._within = any("/" in f.path for f in fields)
            self._names = [f.name for f in fields]
            self._keys = keys
            self._pairs = list(zip(self._names, keys, strict=True))
            return
        self._own: list[tuple[str, str]] = []  # (field, attribute of the record's element)
        self._texts: list[tuple[str, str]] = []  # (field, child's Clark tag)
        self._child_attrs: list[tuple[str, str, str]] = []  # (field, child, attribute)
        self._deep: list[tuple[str, str, str]] = []  # (field, child, grandchild)
        self._lists: list[tuple[str, str, Callable[[Any], Any] | None, Table | None]] = []
        self._nested: list[tuple[str, str, Table]] = []
        for f in fields:
            first, _, rest = f.path.partition("/")
            if first.startswith("@"):
                self._own.append((f.name, first[1:]))
            elif f.many:
                self._lists.append((f.name, self._clark(first), _reader(f), f.table))
            elif f.table is not None:
                self._nested.append((f.name, self._clark(first), f.table))
            elif not rest:
                self._texts.append((f.name, self._clark(first)))
            elif rest.startswith("@"):
                self._child_attrs.append((f.name, self._clark(first), rest[1:]))
            elif "/" not in rest:
                self._deep.append((f.name, self._clark(first), self._clark(rest)))
            else:
                raise ValueError(f"{f.path}: a table reads two levels below the record at most")
        self._deeper = bool(self._deep or self._lists or self._nested)
        self._by_child = bool(self._texts or self._child_attrs or self._deeper)

    def read(self, element: etree._Element) -> dict[str, Any]:
        """The canonical values of `element`, as the model takes them (texts stripped, codes mapped)."""
        if self._by_text:
            # by Clark name, so another namespace's element, a comment or a PI never matches a key
            texts: dict[Any, str] = {}
            parts = element.iter() if self._within else element.iterchildren()
            if self.strip:
                for part in parts:
                    text = part.text
                    texts[part.tag] = text.strip() if text else ""
            else:
                for part in parts:
                    texts[part.tag] = part.text or ""
            if self.omit_missing:
                values = {name: texts[key] for name, key in self._pairs if key in texts}
            else:
                values = dict(zip(self._names, map(texts.get, self._keys), strict=True))
        else:
            values = self._read_parts(element)
        if self.omit_missing:
            for name, convert in self._converts:
                if name in values:
                    values[name] = convert(values[name])
        else:
            for name, convert in self._converts:
                values[name] = convert(values[name])
        for name, other in self._also:
            if name in values:
                values[other] = values[name]
        return values

    def _read_parts(self, element: etree._Element) -> dict[str, Any]:
        parts = {}
        if self._by_child:  # not for attributes alone: LIETIS's load holds all its records
            for part in element.iterchildren():
                parts[part.tag] = part  # last one wins; by Clark name, like the texts
        get = parts.get
        values: dict[str, Any] = {}
        for name, attribute in self._own:
            values[name] = element.get(attribute)
        for name, tag in self._texts:
            part = get(tag)
            if part is None:
                values[name] = None
            else:
                text = part.text
                values[name] = (text.strip() if self.strip else text) if text else ""
        for name, tag, attribute in self._child_attrs:
            part = get(tag)
            values[name] = None if part is None else part.get(attribute)
        if self._deeper:
            self._read_deeper(element, parts, values)
        if self.omit_missing:
            return {name: value for name, value in values.items() if value is not None}
        return values

    def _read_deeper(self, element: etree._Element, parts: dict[Any, etree._Element], values: dict[str, Any]) -> None:
        """Grandchildren, lists and nested models: rare enough to keep out of the common loop."""
        for name, tag, inner in self._deep:
            part = parts.get(tag)
            below = None if part is None else next(part.iterchildren(inner), None)
            values[name] = None if below is None else self._text(below)
        for name, tag, convert, table in self._lists:
            items = element.iterchildren(tag)
            if table is not None:
                values[name] = [table.read(item) for item in items]
            else:
                texts = [self._text(item) for item in items]
                values[name] = texts if convert is None else [convert(text) for text in texts]
        for name, tag, table in self._nested:
            part = parts.get(tag)
            values[name] = None if part is None else table.read(part)

    def _text(self, element: etree._Element) -> str:
        text = element.text
        return (text.strip() if self.strip else text) if text else ""

    # -- writing -----------------------------------------------------------------------------------

    def _compile_write(self, fields: Iterable[Field]) -> _Node:
        """Attributes apart from children: each keeps its own order, so the XML is the same as
        when they are written interleaved, and the loops need not ask which one a field is."""
        attributes: list[tuple[str, str, _Format | None]] = []
        text: list[tuple[str, _Format | None]] = []
        children: list[_Child] = []
        seen: set[str] = set()

        def element_of(f: Field) -> str:
            return "" if f.path.startswith("@") or f.path == SELF or f.many or f.table else f.path.split("/")[0]

        for element, run in groupby(fields, key=element_of):
            run = list(run)
            if element in seen:
                raise ValueError(f"the fields of {element} are not next to each other")
            if element:
                seen.add(element)
            if element and (len(run) > 1 or "/" in run[0].path):
                inner = [replace(f, path=SELF if f.path == element else f.path.partition("/")[2]) for f in run]
                node = self._compile_write(inner)
                inner_attributes, inner_text, inner_children = node
                if inner_text or any(c[0] != _TEXT or c[4] is not None for c in inner_children):
                    children.append((_GROUP, "", self._clark(element), None, node))
                else:  # attributes and texts only (`Lemums`): written without a call of its own
                    texts = [(name, tag, fmt) for _, name, tag, fmt, _ in inner_children]
                    children.append((_FLAT, "", self._clark(element), None, (inner_attributes, texts)))
                continue
            for f in run:
                fmt = _writer(f)
                if f.path == SELF:
                    text.append((f.name, fmt))
                elif f.path.startswith("@"):
                    attributes.append((f.name, f.path[1:], fmt))
                elif f.table is not None:
                    children.append(
                        (_NESTED_MANY if f.many else _NESTED, f.name, self._clark(f.path), None, f.table._node)
                    )
                elif f.many:
                    children.append((_MANY, f.name, self._clark(f.path), fmt, None))
                else:
                    children.append((_TEXT, f.name, self._clark(f.path), fmt, dict(f.attributes) or None))
        return attributes, text, children

    def write(self, element: etree._Element, record: object) -> etree._Element:
        """Write `record`'s fields (its attributes by the canonical names) into `element`; a field
        that is None, or that the record lacks, is not written. Returns `element`."""
        _write(element, record, self._node)
        return element


def _write(element: etree._Element, record: object, node: _Node) -> bool:
    """Whether anything was written: a group none of whose fields has a value is left out."""
    attributes, own_text, children = node
    wrote = False
    for name, key, fmt in attributes:
        value = getattr(record, name, None)
        if value is not None:
            convert = fmt or _CONVERT.get(value.__class__, _format)
            element.set(key, value if convert is None else convert(value))
            wrote = True
    for name, fmt in own_text:
        value = getattr(record, name, None)
        if value is not None:
            element.text = (fmt or _format)(value)
            wrote = True
    for kind, name, key, fmt, extra in children:
        if kind == _TEXT:
            value = getattr(record, name, None)
            if value is None:
                continue
            convert = fmt or _CONVERT.get(value.__class__, _format)
            part = etree.SubElement(element, key) if extra is None else etree.SubElement(element, key, extra)
            part.text = value if convert is None else convert(value)
        elif kind == _FLAT:
            part = None
            attribute_fields, text_fields = extra
            for name, attribute, fmt in attribute_fields:
                value = getattr(record, name, None)
                if value is not None:
                    convert = fmt or _CONVERT.get(value.__class__, _format)
                    if part is None:
                        part = etree.SubElement(element, key)
                    part.set(attribute, value if convert is None else convert(value))
            for name, tag, fmt in text_fields:
                value = getattr(record, name, None)
                if value is not None:
                    convert = fmt or _CONVERT.get(value.__class__, _format)
                    if part is None:
                        part = etree.SubElement(element, key)
                    etree.SubElement(part, tag).text = value if convert is None else convert(value)
            if part is None:
                continue
        elif kind == _GROUP:
            part = etree.SubElement(element, key)
            if not _write(part, record, extra):
                element.remove(part)
                continue
        else:
            value = getattr(record, name, None)
            if value is None:
                continue
            if kind == _MANY:
                for item in value:
                    etree.SubElement(element, key).text = (fmt or _format)(item)
            elif kind == _NESTED:
                _write(etree.SubElement(element, key), value, extra)
            else:
                for item in value:
                    _write(etree.SubElement(element, key), item, extra)
        wrote = True
    return wrote
