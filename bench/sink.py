"""A target that only reads the body: it answers every record of a SPOLIS data load as accepted,
without parsing or storing anything, so that worker delivery is measured without SPOLIS's own work.

`python -m bench.sink PORT`; `GET /count` says how many records it answered, and when the first and
the last request came.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time

from adapters.spolis.outbound import NS

_IDS = re.compile(rb"<(?:\w+:)?ZinojumaId>([0-9a-f-]{36})</")
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    f'<soap:Body><sp:IesniegtIerakstusAtbilde xmlns:sp="{NS}">'
).encode()
_TAIL = b"</sp:IesniegtIerakstusAtbilde></soap:Body></soap:Envelope>"
count = 0
first = last = 0.0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global count, first, last
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /count"):
                payload = f"{count} {first} {last}".encode()
            else:
                ids = _IDS.findall(body)
                count += len(ids)
                last = time.time()
                first = first or last
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
