"""The hub's own SOAP answers: receipts and status, in the hub-v1 schema."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from hub.soap import HUB_NS
from hub.store.status import Receipt, ReceiptStatus


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{HUB_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def receipt_element(receipt: Receipt) -> etree._Element:
    root = etree.Element(f"{{{HUB_NS}}}Receipt", nsmap={"hub": HUB_NS})
    _el(root, "ReceiptID", receipt.receipt_id)
    _el(root, "AcceptedAt", _time(receipt.accepted_at))
    _el(root, "RecordCount", str(receipt.record_count))
    for row in receipt.records:
        etree.SubElement(
            root,
            f"{{{HUB_NS}}}Record",
            index=str(row.record_index),
            recordId=row.record_id,
            messageId=row.message_id,
        )
    for index, text in receipt.notices:
        etree.SubElement(root, f"{{{HUB_NS}}}Notice", index=str(index)).text = text
    return root


def status_element(status: ReceiptStatus) -> etree._Element:
    root = etree.Element(f"{{{HUB_NS}}}GetStatusResponse", nsmap={"hub": HUB_NS})
    _el(root, "ReceiptID", status.receipt_id)
    for name in ("accepted", "delivered", "failed"):
        _el(root, name.capitalize(), str(status.counts.get(name, 0)))
    for record in status.records:
        item = _el(root, "Record")
        _el(item, "MessageID", record.message_id)
        _el(item, "RecordID", record.record_id)
        _el(item, "Status", record.status)
        _el(item, "UpdatedAt", _time(record.updated_at))
        if record.error_class:
            _el(item, "ErrorClass", record.error_class)
        if record.reason:
            _el(item, "Reason", record.reason)
    return root
