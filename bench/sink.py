"""A target that only reads the body: it answers every record of a SPOLIS data load as accepted,
without parsing or storing anything, so that worker delivery is measured without SPOLIS's own work.

`python -m bench.sink PORT`; `GET /count` says how many records it answered, and the seconds from
the first request to the last, less any hold. `GET /hold?at=N` holds the answer to the call that
brings the count to N, until `GET /release`: a worker delivers one call at a time, so while it waits
its CPU counters and the sink's count stand still together, however late the bench looks.
`GET /held` says the count while held, and nothing before.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from urllib.parse import parse_qs, urlsplit

from adapters.spolis.outbound import NS

_IDS = re.compile(rb"<(?:\w+:)?ZinojumaId>([0-9a-f-]{36})</")
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    f'<soap:Body><sp:IesniegtIerakstusAtbilde xmlns:sp="{NS}">'
).encode()
_TAIL = b"</sp:IesniegtIerakstusAtbilde></soap:Body></soap:Envelope>"
count = 0
first = last = held_seconds = 0.0
hold_at: int | None = None
held = asyncio.Event()
released = asyncio.Event()


def control(request_line: bytes) -> bytes:
    """The answer to a GET."""
    global hold_at
    target = urlsplit(request_line.split()[1].decode())
    if target.path == "/hold":
        hold_at = int(parse_qs(target.query)["at"][0])
        return b"holding"
    if target.path == "/held":
        return str(count).encode() if held.is_set() else b""
    if target.path == "/release":
        released.set()
        return b"released"
    return f"{count} {last - first - held_seconds}".encode()


async def answered(ids: list[bytes]) -> None:
    """Counts a call's records; holds the call that reaches `hold_at` until released."""
    global count, first, last, hold_at, held_seconds
    count += len(ids)
    last = time.time()
    first = first or last
    if hold_at is not None and count >= hold_at:
        hold_at = None
        held.set()
        await released.wait()
        held_seconds = time.time() - last


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET "):
                payload = control(head)
            else:
                ids = _IDS.findall(body)
                await answered(ids)
                payload = (
                    _HEAD
                    + b"".join(
                        b"<sp:Rezultats><sp:ZinojumaId>%s</sp:ZinojumaId><sp:Statuss>PIENEMTS</sp:Statuss></sp:Rezultats>"
                        % i
                        for i in ids
                    )
                    + _TAIL
                )
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % len(payload))
            writer.write(payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
