"""A partner's side under load, in a process of its own so that it does not share the hub's
interpreter: posts prepared SOAP requests with N connections at once and reports each one's time.
It shares the machine with the hub, and what it spends is taken from the hub being measured, so it
is the standard library's HTTP client, the lightest at hand.

`python -m bench.loadgen REQUESTS OUT --url URL --concurrency N`: REQUESTS is a pickled list of
(path, body) pairs, built and signed beforehand so that signing is not timed; OUT gets JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import pickle
import queue
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def run(url: str, requests: list[tuple[str, bytes]], concurrency: int) -> dict[str, object]:
    work: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    for item in requests:
        work.put(item)
    latencies: list[float] = []
    faults: list[str] = []
    lock = threading.Lock()
    server = urlsplit(url)

    def caller() -> None:
        connection = http.client.HTTPConnection(server.hostname or "127.0.0.1", server.port, timeout=120)
        try:
            while True:
                try:
                    path, body = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                status, text = _post(connection, f"{server.path}{path}", body)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if status != 200:
                        # the Fault, not the header that comes first
                        faults.append(f"HTTP {status}: {text.partition(b'Body>')[2][:500].decode(errors='replace')}")
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(concurrency)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"started": started, "ended": time.time(), "latencies": latencies, "faults": faults}


def _post(connection: http.client.HTTPConnection, path: str, body: bytes) -> tuple[int, bytes]:
    """One request on the kept-alive connection; once again on a new one if the server had closed it."""
    for attempt in (1, 2):
        try:
            connection.request("POST", path, body, HEADERS)
            response = connection.getresponse()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            connection.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("requests", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    requests = pickle.loads(args.requests.read_bytes())
    args.out.write_text(json.dumps(run(args.url, requests, args.concurrency)), encoding="utf-8")


if __name__ == "__main__":
    main()
