"""What an unauthenticated sender can make the gateway spend: requests built to cost CPU before their
signature is checked (libxml2's canonicalisation grows with the square of the attributes or
namespace declarations on one element), sent with only SOPA's public certificate, and
a legitimate load's receipt while four senders keep sending them, against the same load's receipt
with nobody attacking, in the same run."""

from __future__ import annotations

import base64
import statistics
import threading
import time
from dataclasses import dataclass

import httpx
from lxml import etree

from bench.environment import Bench
from bench.stages import BATCH, signed_loads
from hub.xml.parser import HardenedParser

ATTACKERS = 4


@dataclass(frozen=True)
class Refusal:
    name: str
    kib: int
    p50_s: float
    max_s: float


@dataclass(frozen=True)
class RefusalFigures:
    rounds: int
    refusals: list[Refusal]
    forged_parse_s: float  # the forged 8 MiB load, parsed alone in this process
    receipt_alone_s: float  # a real load's receipt, median, nobody attacking
    receipt_attacked_s: float  # the same while ATTACKERS senders send the requests above
    receipts_attacked: int
    faults_attacked: int


def bombs(template: bytes) -> dict[str, bytes]:
    """A signed load with its Body swapped for each bomb (the signature no longer fits it, which the
    hub can know only after the work the bomb is made to cause, were it not bounded)."""
    start, end = template.index(b"<sopa:DatuPakete"), template.index(b"</sopa:DatuPakete>") + len(b"</sopa:DatuPakete>")

    def body(inside: str) -> bytes:
        return (
            template[:start]
            + f'<sopa:DatuPakete xmlns:sopa="urn:lv:riga:sopa:spolis:v1" {inside}/>'.encode()
            + template[end:]
        )

    forged = etree.fromstring(template)  # a genuine 8 MiB load under a forged signature value
    content = forged.find(".//{urn:lv:riga:sopa:spolis:v1}DatuPakete")
    records = next(child for child in content if len(child))  # whichever kinds the load happens to carry
    record = records[0]
    padding = etree.SubElement(content, records.tag)
    while len(etree.tostring(forged)) < 7 << 20:
        for _ in range(500):
            padding.append(etree.fromstring(etree.tostring(record)))
    value = forged.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    value.text = base64.b64encode(bytes(256)).decode()
    return {
        "60k attributes on one element": body(" ".join(f'a{i}="1"' for i in range(60_000))),
        "100k attributes on one element": body(" ".join(f'a{i}="1"' for i in range(100_000))),
        "150k namespace declarations on one element": body(" ".join(f'xmlns:p{i}="urn:p{i}"' for i in range(150_000))),
        "7 MiB load, forged signature value": etree.tostring(forged),
    }


def _post(client: httpx.Client, url: str, data: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(f"{url}/soap/sopa", content=data, headers={"Content-Type": "text/xml; charset=utf-8"})
    return time.perf_counter() - started, response.status_code


def _receipts(client: httpx.Client, url: str, loads: list[tuple[str, bytes]]) -> tuple[list[float], int]:
    times, faults = [], 0
    for _, data in loads:
        seconds, status = _post(client, url, data)
        times.append(seconds)
        faults += status != 200
    return times, faults


def measure(bench: Bench) -> RefusalFigures:
    rounds = bench.size.refusals
    url = bench.hub("gateway-refusals", "gateway", bench.hub_env("refusals"))
    attacks = bombs(signed_loads(bench, BATCH, seed=41)[0][1])
    parser = HardenedParser(max_bytes=8 << 20, max_depth=32)
    forged = attacks["7 MiB load, forged signature value"]
    parse_times = []
    for _ in range(5):
        started = time.perf_counter()
        parser.parse(forged)
        parse_times.append(time.perf_counter() - started)
    with httpx.Client(timeout=60) as client:
        _receipts(client, url, signed_loads(bench, BATCH * 5, seed=42))  # warm: the first loads connect
        refusals = []
        for name, data in attacks.items():
            times = []
            for _ in range(rounds):
                seconds, status = _post(client, url, data)
                assert status == 500, f"{name}: HTTP {status}"
                times.append(seconds)
            refusals.append(Refusal(name, len(data) >> 10, statistics.median(times), max(times)))
        alone, _ = _receipts(client, url, signed_loads(bench, BATCH * rounds, seed=43))
    stop = threading.Event()

    def attack() -> None:
        with httpx.Client(timeout=60) as attacker:
            while not stop.is_set():
                for data in attacks.values():
                    _post(attacker, url, data)

    attackers = [threading.Thread(target=attack) for _ in range(ATTACKERS)]
    for thread in attackers:
        thread.start()
    try:
        time.sleep(0.5)
        with httpx.Client(timeout=60) as client:
            attacked, faults = _receipts(client, url, signed_loads(bench, BATCH * rounds, seed=44))
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    return RefusalFigures(
        rounds,
        refusals,
        statistics.median(parse_times),
        statistics.median(alone),
        statistics.median(attacked),
        len(attacked) - faults,
        faults,
    )
