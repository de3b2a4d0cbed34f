"""SOAP 1.1 in the VISS style: envelopes, the message header and Faults."""

from hub.soap.envelope import (
    HUB_NS,
    SOAP11_NS,
    VH_NS,
    SoapMessage,
    build_envelope,
    parse_envelope,
)
from hub.soap.faults import Fault, fault_from_error, parse_fault
from hub.soap.header import MessageHeader

__all__ = [
    "HUB_NS",
    "SOAP11_NS",
    "VH_NS",
    "Fault",
    "MessageHeader",
    "SoapMessage",
    "build_envelope",
    "fault_from_error",
    "parse_envelope",
    "parse_fault",
]
