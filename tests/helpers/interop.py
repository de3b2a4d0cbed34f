"""What the partners' WS-Security stacks (tests/interop) exchange with a running hub with signatures
required: the requests a municipal system sends (a data load, a status question, a per-person query,
and a load the hub refuses), written out as XML here, not built by the hub's code; and the round of
them each stack signs, whose answers it verifies with the hub's certificate."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from tests.helpers import SCHEMAS

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
HUB_NS = "urn:lv:welfare-hub:v1"
KINDS = ("load", "status", "query", "refused")
# What the hub answers each kind with: the Body's element, and for the refused load the Fault's rule.
ANSWERS = {"load": "Receipt", "status": "GetStatusResponse", "query": "EP50Atbilde", "refused": "Fault"}


@dataclass
class RunningHub:
    url: str
    pki: Path

    def post(self, data: bytes, system: str = "sopa") -> tuple[int, bytes]:
        response = httpx.post(
            f"{self.url}/soap/{system}", content=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30
        )
        return response.status_code, response.content


def _sample(path: str) -> str:
    return (SCHEMAS / path).read_text(encoding="utf-8")


def unsigned(kind: str, *, receipt_id: str | None = None) -> bytes:
    """The request of `kind` as a partner's system would write it, with a new MessageID."""
    text = {
        "load": _sample("sopa/samples/valid/benefits.xml"),
        "status": _sample("sopa/samples/valid/status-query.xml"),
        "query": _sample("vsaa/samples/valid/ep50-from-sopa.xml"),
        "refused": _sample("sopa/samples/invalid/bad-person-code.xml"),
    }[kind]
    text = re.sub(r"<!--.*?-->\s*", "", text, flags=re.S)
    text = re.sub(r"<vh:MessageID>[^<]*</vh:MessageID>", f"<vh:MessageID>{uuid.uuid4()}</vh:MessageID>", text)
    if kind == "status":
        text = re.sub(r"<hub:ReceiptID>[^<]*</hub:ReceiptID>", f"<hub:ReceiptID>{receipt_id}</hub:ReceiptID>", text)
    return text.encode()


def security_header(root: etree._Element) -> tuple[etree._Element, etree._Element]:
    """A wsse:Security header put first in the envelope's Header, holding a fresh wsu:Timestamp (five
    minutes): what every stack here signs into."""
    security = etree.Element(f"{{{WSSE_NS}}}Security", nsmap={"wsse": WSSE_NS, "wsu": WSU_NS})
    root.find(f"{{{SOAP_NS}}}Header").insert(0, security)
    timestamp = etree.SubElement(security, f"{{{WSU_NS}}}Timestamp")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for name, moment in (("Created", now), ("Expires", now + dt.timedelta(minutes=5))):
        etree.SubElement(timestamp, f"{{{WSU_NS}}}{name}").text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return security, timestamp


def answer_of(data: bytes) -> tuple[str, str | None]:
    """The local name of the answer's Body element, and a Fault's first rule."""
    root = etree.fromstring(data)
    content = root.find(f"{{{SOAP_NS}}}Body")[0]
    return etree.QName(content).localname, content.findtext(f".//{{{HUB_NS}}}Rule")


def exchange(hub: RunningHub, sign: Callable[[bytes], bytes], verify: Callable[[bytes], None]) -> Iterator[str]:
    """Each kind of request signed by `sign`, its answer checked and verified by `verify`: yields the
    kinds done, so a test can say which stack did what."""
    receipt_id = None
    for kind in KINDS:
        status, answer = hub.post(sign(unsigned(kind, receipt_id=receipt_id)))
        name, rule = answer_of(answer)
        assert name == ANSWERS[kind], (kind, status, answer[:2000])
        if kind == "load":
            receipt_id = etree.fromstring(answer).findtext(f".//{{{HUB_NS}}}ReceiptID")
        if kind == "refused":
            assert (status, rule) == (500, "person-code-checksum"), answer[:2000]
        verify(answer)
        tampered = (
            answer.replace(b"<hub:ReceiptID>", b"<hub:ReceiptID>0", 1)
            if kind != "refused"
            else answer.replace(b"person-code-checksum", b"person-code-checksun", 1)
        )
        if tampered != answer:
            with pytest.raises(Exception):  # noqa: B017 - each stack raises its own kind
                verify(tampered)
        yield kind


class JavaPartner:
    """A partner's Java program (tests/interop/java) run as one JVM serving commands: one a line, its
    arguments tab-separated, one JSON line back. Starting a JVM costs a second or so, and a test signs
    and verifies a dozen messages."""

    def __init__(self, java: str, source: Path, folder: Path, *args: str, classpath: list[Path] | None = None) -> None:
        self.folder = folder
        self.errors = folder / f"{source.stem}.stderr"
        command = [java, *(["-cp", ":".join(map(str, classpath))] if classpath else []), str(source), *args]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors.open("wb"), text=True
        )

    def call(self, *args: str | Path) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\t".join(map(str, args)) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"java ended: {self.errors.read_text(errors='replace')[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"java {args[0]}: {result['error']}")
        return result

    def file(self, data: bytes, kind: str) -> Path:
        path = self.folder / f"{uuid.uuid4().hex}.{kind}.xml"
        path.write_bytes(data)
        return path

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def java_signer(partner: JavaPartner, key: Path, cert: Path) -> Callable[[bytes], bytes]:
    """A request signed by the Java program's `sign` command with the partner's key and certificate."""

    def sign(data: bytes) -> bytes:
        source = partner.file(data, "unsigned")
        target = source.with_suffix(".signed.xml")
        partner.call("sign", source, key, cert, target)
        return target.read_bytes()

    return sign


def pkcs8_der(pem_key: Path, folder: Path) -> Path:
    """The key as Java's PKCS8EncodedKeySpec reads it."""
    key = serialization.load_pem_private_key(pem_key.read_bytes(), password=None)
    path = folder / f"{pem_key.stem}.pk8.der"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path
