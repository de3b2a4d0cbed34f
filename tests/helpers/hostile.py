"""A corpus of hostile requests to the gateway, each with what the hub must answer.

Built in code rather than kept as files: several are megabytes, and the network ones name a local
listener that must never be called. Shared by the in-process tests and by the test that attacks a
running `hub serve` from outside.
"""

from __future__ import annotations

from dataclasses import dataclass

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
HEADER = (
    '<vh:MessageHeader xmlns:vh="urn:lv:welfare-hub:viss-header:v1">'
    "<vh:MessageID>0b3f7c1e-6a1d-4c3b-9f0e-2d4c5b6a7e8f</vh:MessageID>"
    "<vh:MessageType>urn:lv:riga:sopa:spolis:v1#DatuPakete</vh:MessageType>"
    "<vh:Sender>sopa</vh:Sender><vh:Destination>spolis</vh:Destination>"
    "<vh:UserId>rsd.soc.darbinieks.014</vh:UserId></vh:MessageHeader>"
)


def envelope(body: str, *, prolog: str = "", header: str = HEADER, namespace: str = SOAP) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        f'<soap:Envelope xmlns:soap="{namespace}"><soap:Header>{header}</soap:Header>'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def load(load_id: str = "X-1") -> str:
    """A SOPA data load holding only its id: where the attacks put their payload."""
    return (
        '<sopa:DatuPakete xmlns:sopa="urn:lv:riga:sopa:spolis:v1">'
        f"<sopa:PaketesId>{load_id}</sopa:PaketesId></sopa:DatuPakete>"
    )


def dtd(declarations: str) -> str:
    return f"<!DOCTYPE x [{declarations}]>"


@dataclass(frozen=True)
class Hostile:
    name: str
    body: bytes
    status: int  # the HTTP status the hub must answer
    rule: str  # a rule the Fault must name ("" when any Client Fault will do)
    chunked: bool = False  # sent without a Content-Length
    before_signature: bool = True  # refused before the signature is looked at (else: signature-required)


def corpus(listener: str) -> list[Hostile]:
    """`listener`: an http://host:port the hub must never call while parsing."""
    laughs = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    return [
        Hostile(
            "xxe-file",
            envelope(
                load("<sopa:PaketesId>&xxe;</sopa:PaketesId>"),
                prolog='<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
            ),
            500,
            "dtd-forbidden",
        ),
        Hostile(
            "xxe-network",
            envelope(
                load("<sopa:PaketesId>&xxe;</sopa:PaketesId>"),
                prolog=f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{listener}/xxe">]>',
            ),
            500,
            "dtd-forbidden",
        ),
        Hostile(
            "parameter-entity",
            envelope(load(), prolog=dtd(f'<!ENTITY % remote SYSTEM "{listener}/pe"> %remote;')),
            500,
            "dtd-forbidden",
        ),
        Hostile(
            "external-dtd",
            envelope(load(), prolog=f'<!DOCTYPE soap:Envelope SYSTEM "{listener}/x.dtd">'),
            500,
            "dtd-forbidden",
        ),
        Hostile(
            "billion-laughs",
            envelope(
                load("<sopa:PaketesId>&lol9;</sopa:PaketesId>"), prolog=f'<!DOCTYPE x [<!ENTITY lol0 "lol">{laughs}]>'
            ),
            500,
            "dtd-forbidden",
        ),
        Hostile(
            "quadratic-blowup",
            envelope(
                load("&a;" * 20_000),
                prolog=dtd(f'<!ENTITY a "{"x" * 50_000}">'),
            ),
            500,
            "dtd-forbidden",
        ),
        Hostile("deep-nesting", envelope("<a>" * 100_000 + "</a>" * 100_000), 500, "max-depth"),
        Hostile("nesting-over-the-limit", envelope("<a>" * 40 + "</a>" * 40), 500, "max-depth"),
        Hostile(
            "huge-text-node",
            envelope(load("A" * 7_000_000)),
            500,
            "pattern",
            before_signature=False,
        ),
        Hostile(
            "huge-attribute",
            envelope(load().replace("<sopa:DatuPakete ", f'<sopa:DatuPakete junk="{"B" * 7_000_000}" ', 1)),
            500,
            "unexpected-attribute",
            before_signature=False,
        ),
        Hostile(
            "oversize-body", envelope(load(f"<sopa:PaketesId>{'C' * 9_000_000}</sopa:PaketesId>")), 413, "max-size"
        ),
        Hostile(
            "oversize-chunked",
            envelope(load("D" * 9_000_000)),
            413,
            "max-size",
            chunked=True,
        ),
        Hostile("utf-16", envelope(load()).decode().replace("UTF-8", "UTF-16").encode("utf-16"), 500, "encoding"),
        Hostile("latin-1-declared", envelope(load()).replace(b"UTF-8", b"ISO-8859-1"), 500, "encoding"),
        Hostile(
            "broken-utf-8",
            envelope(load("<sopa:PaketesId>\xff\xfe</sopa:PaketesId>")).replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"),
            500,
            "well-formed",
        ),
        Hostile("soap-1.2", envelope(load(), namespace="http://www.w3.org/2003/05/soap-envelope"), 500, "soap-version"),
        Hostile("not-soap", b'<?xml version="1.0"?><DatuPakete/>', 500, "soap-envelope"),
        Hostile("garbage", bytes(range(256)) * 64, 500, "encoding"),  # starts with NUL: not UTF-8 XML
        Hostile("empty", b"", 500, "well-formed"),
        Hostile("json", b'{"DatuPakete": {"PaketesId": "X-1"}}', 500, "well-formed"),
        Hostile(
            "body-in-a-foreign-namespace",
            envelope(load().replace("urn:lv:riga:sopa:spolis:v1", "urn:evil:sopa")),
            500,
            "namespace",
            before_signature=False,
        ),
        Hostile(
            "header-in-a-foreign-namespace",
            envelope(load(), header=HEADER.replace("urn:lv:welfare-hub:viss-header:v1", "urn:evil:header")),
            500,
            "required",
        ),
        Hostile("two-bodies", envelope(load() + load()), 500, "single-body-element"),
        Hostile(
            "processing-instruction-and-comment-smuggling",
            envelope(load("X<?php system('id'); ?><!-- x -->1")),
            500,
            "",  # parsed without them; the load is still invalid (it holds no records)
            before_signature=False,
        ),
    ]
