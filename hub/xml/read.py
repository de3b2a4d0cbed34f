"""Small readers adapters use to take a dialect's element apart in one pass over its children."""

from __future__ import annotations

from lxml import etree


def child_texts(element: etree._Element, namespace: str) -> dict[str, str]:
    """Local name -> stripped text of each direct child in `namespace` (the last one wins)."""
    prefix = f"{{{namespace}}}"
    cut = len(prefix)
    values: dict[str, str] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(prefix):
            values[tag[cut:]] = (child.text or "").strip()
    return values


def child(element: etree._Element, namespace: str, name: str) -> etree._Element | None:
    return element.find(f"{{{namespace}}}{name}")


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
