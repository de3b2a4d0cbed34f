"""Small readers adapters use to take a dialect's element apart in one pass over its children."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree


def _texts(elements: Iterator[etree._Element], namespace: str) -> dict[str, str]:
    cut = len(namespace) + 2
    values: dict[str, str] = {}
    for element in elements:
        text = element.text
        values[element.tag[cut:]] = text.strip() if text else ""
    return values


def child_texts(element: etree._Element, namespace: str) -> dict[str, str]:
    """Local name -> stripped text of each direct child in `namespace` (the last one wins).
    lxml picks the children by their tag, in C, rather than each child being tested here."""
    return _texts(element.iterchildren(f"{{{namespace}}}*"), namespace)


def texts_within(element: etree._Element, namespace: str) -> dict[str, str]:
    """Local name -> stripped text of `element` and every element below it in `namespace`, in one pass:
    for a record whose schema never gives two of its elements the same name (the last one wins), read
    whole instead of once per nested group."""
    return _texts(element.iter(f"{{{namespace}}}*"), namespace)


def child(element: etree._Element, namespace: str, name: str) -> etree._Element | None:
    """The first direct child of that name (`find` would read its path in Python first)."""
    return next(element.iterchildren(f"{{{namespace}}}{name}"), None)


def indexed_children(element: etree._Element, namespace: str, name: str, path: str) -> list[tuple[str, etree._Element]]:
    """The `name` children with their path as the schema errors spell it: an index only when there
    is more than one."""
    items = element.findall(f"{{{namespace}}}{name}")
    if len(items) == 1:
        return [(f"{path}/{name}", items[0])]
    return [(f"{path}/{name}[{i}]", item) for i, item in enumerate(items, start=1)]


def sub(parent: etree._Element, namespace: str, name: str, text: object | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{namespace}}}{name}")
    if text is not None:
        element.text = str(text)
    return element
