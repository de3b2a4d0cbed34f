"""A partner's side under load, in a process of its own so that it does not share the hub's
interpreter: posts prepared SOAP requests with N connections at once and reports each one's time.

`python -m bench.loadgen REQUESTS OUT --url URL --concurrency N`: REQUESTS is a pickled list of
(path, body) pairs, built and signed beforehand so that signing is not timed; OUT gets JSON.
"""

from __future__ import annotations

import argparse
import json
import pickle
import queue
import threading
import time
from pathlib import Path

import httpx

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def run(url: str, requests: list[tuple[str, bytes]], concurrency: int) -> dict[str, object]:
    work: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    for item in requests:
        work.put(item)
    latencies: list[float] = []
    faults: list[str] = []
    lock = threading.Lock()

    def caller() -> None:
        with httpx.Client(timeout=120, limits=httpx.Limits(max_keepalive_connections=1)) as client:
            while True:
                try:
                    path, body = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                response = client.post(f"{url}{path}", content=body, headers=HEADERS)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        # the Fault, not the header that comes first
                        faults.append(f"HTTP {response.status_code}: {response.text.partition('Body>')[2][:500]}")

    threads = [threading.Thread(target=caller) for _ in range(concurrency)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"started": started, "ended": time.time(), "latencies": latencies, "faults": faults}


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
