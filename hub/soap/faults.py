"""The one place where errors become SOAP 1.1 Faults, and Faults become errors again.

faultcode Client means "do not resend this as it is", Server means "try again later"; the
detail says which field broke which rule, so a partner can fix its message without a phone call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from hub.errors import FieldError, HubError, ValidationFailed, classify
from hub.soap.envelope import HUB_NS, SOAP11_NS, SoapVersionMismatch
from hub.xml.parser import HardenedParser

MAX_DETAIL_ERRORS = 100
MAX_MESSAGE_CHARS = 500  # a Fault never echoes a sender's megabytes back


@dataclass
class Fault(Exception):
    code: str
    string: str
    error_class: str
    retry: bool
    errors: list[FieldError] = field(default_factory=list)
    http_status: int = 500

    def __str__(self) -> str:
        return f"{self.code}: {self.string}"

    def to_element(self) -> etree._Element:
        fault = etree.Element(f"{{{SOAP11_NS}}}Fault", nsmap={"soap": SOAP11_NS})
        code = etree.SubElement(fault, "faultcode")
        code.text = f"soap:{self.code}"
        etree.SubElement(fault, "faultstring").text = self.string[:MAX_MESSAGE_CHARS]
        detail = etree.SubElement(etree.SubElement(fault, "detail"), f"{{{HUB_NS}}}FaultDetail", nsmap={"hub": HUB_NS})
        etree.SubElement(detail, f"{{{HUB_NS}}}ErrorClass").text = self.error_class
        etree.SubElement(detail, f"{{{HUB_NS}}}Retry").text = "true" if self.retry else "false"
        for error in self.errors[:MAX_DETAIL_ERRORS]:
            item = etree.SubElement(detail, f"{{{HUB_NS}}}Error")
            etree.SubElement(item, f"{{{HUB_NS}}}Field").text = error.field
            etree.SubElement(item, f"{{{HUB_NS}}}Rule").text = error.rule
            etree.SubElement(item, f"{{{HUB_NS}}}Message").text = error.message[:MAX_MESSAGE_CHARS]
            if error.line:
                etree.SubElement(item, f"{{{HUB_NS}}}Line").text = str(error.line)
        return fault


def fault_from_error(exc: BaseException) -> Fault:
    if isinstance(exc, Fault):
        return exc
    error_class, permanent = classify(exc)
    if isinstance(exc, SoapVersionMismatch):
        return Fault("VersionMismatch", str(exc), error_class, False, exc.errors)
    if isinstance(exc, ValidationFailed):
        code = "MustUnderstand" if exc.errors[0].rule == "must-understand" else "Client"
        status = 413 if exc.errors[0].rule == "max-size" else 500
        return Fault(code, f"{exc.summary}: {exc}", error_class, False, exc.errors, status)
    if not permanent:
        # the hub's own errors say what passes; another's text (a driver's, naming hosts) stays inside
        why = str(exc) if isinstance(exc, HubError) else error_class.replace("_", " ")
        return Fault("Server", f"temporarily unavailable, retry later: {why}", error_class, True)
    if isinstance(exc, HubError):
        return Fault("Client", str(exc), error_class, False)
    return Fault("Server", "internal error; the hub's operators have been told", error_class, True)


def fault_record(exc: BaseException) -> bytes:
    """The Fault an error answers, as the store keeps it: copies of the same request answer it too."""
    return etree.tostring(fault_from_error(exc).to_element())


def fault_from_record(record: bytes) -> Fault:
    return parse_fault(_RECORDS.parse(record))


def parse_fault(fault: etree._Element) -> Fault:
    """Read a soap:Fault element (ours or a partner's) back into a `Fault`."""
    code = (fault.findtext("faultcode") or "").strip()
    code = code.split(":", 1)[-1] or "Server"
    detail = fault.find(f"detail/{{{HUB_NS}}}FaultDetail")
    errors: list[FieldError] = []
    error_class = "target_rejected" if code == "Client" else "target_unavailable"
    retry = code != "Client"
    if detail is not None:
        error_class = detail.findtext(f"{{{HUB_NS}}}ErrorClass") or error_class
        retry = (detail.findtext(f"{{{HUB_NS}}}Retry") or "").strip() == "true"
        for item in detail.iterfind(f"{{{HUB_NS}}}Error"):
            line = item.findtext(f"{{{HUB_NS}}}Line")
            errors.append(
                FieldError(
                    item.findtext(f"{{{HUB_NS}}}Field") or "",
                    item.findtext(f"{{{HUB_NS}}}Rule") or "",
                    item.findtext(f"{{{HUB_NS}}}Message") or "",
                    int(line) if line else None,
                )
            )
    return Fault(code, fault.findtext("faultstring") or "", error_class, retry, errors)


_RECORDS = HardenedParser(max_bytes=1 << 20, max_depth=16)  # Faults the hub wrote itself
