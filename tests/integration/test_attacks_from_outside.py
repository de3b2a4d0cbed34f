"""Attacks from outside on a running `hub serve` (RabbitMQ, signatures required): hostile XML, forged
senders, tampered and stale messages, rights a partner does not have, other partners' receipts. Each
is refused with its rule while real, signed traffic goes through; afterwards the hub's log and its
database files are searched for every person code that was sent, and none is there in clear."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.sopa.dialect import from_canonical
from bench.refusals import bombs
from hub.devpki import issue
from hub.settings import PROJECT_ROOT
from hub.simulation.client import HubClient, Submitted
from hub.simulation.local import free_port
from hub.simulation.people import person_code
from hub.simulation.pki import hub_verifier, signer_for
from hub.soap import MessageHeader, build_envelope
from hub.soap.signature import Signer
from tests.helpers import (
    BOUND_SECONDS,
    RIGA,
    Listener,
    check_refusal,
    ep51,
    factory,
    metric,
    ready,
    serve_env,
    wait_for,
)
from tests.helpers.hostile import corpus

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture
def hub_serve(amqp_url, broker_prefix, spolis, vsaa, dev_pki, tmp_path) -> Iterator[tuple[str, int, Path]]:
    for target in (spolis, vsaa):
        target.service.server.verifier = hub_verifier(dev_pki)
    port = free_port()
    log = tmp_path / "hub.log"
    env = serve_env(
        amqp_url,
        broker_prefix,
        tmp_path,
        dev_pki,
        http_port=port,
        endpoints={"spolis": spolis.endpoint, "vsaa": vsaa.endpoint},
        log_level="INFO",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_for(lambda: ready(port), timeout=60)
        yield f"http://127.0.0.1:{port}", process.pid, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=60)


def signed_load(pki: Path, signer: str, *, sender: str = "sopa", records=None, now=None) -> tuple[bytes, list]:  # type: ignore[no-untyped-def]
    records = records or factory(random.randrange(10_000)).batch(5)
    header = MessageHeader(
        message_id=uuid.uuid4(),
        message_type="urn:lv:riga:sopa:spolis:v1#DatuPakete",
        sender=sender,
        destination="spolis",
        user_id="rsd.soc.darbinieks.014",
    )
    envelope = etree.fromstring(build_envelope(from_canonical(records, RIGA, "P-X"), header))
    Signer.from_files(pki / f"{signer}.key", pki / f"{signer}.pem").sign(envelope, now=now)
    return etree.tostring(envelope), records


def refused(url: str, sender: str, body: bytes) -> list[tuple[str, str]]:
    response = httpx.post(f"{url}/soap/{sender}", content=body, headers={"Content-Type": "text/xml"}, timeout=30)
    assert response.status_code == 500, response.text[:300]
    fault = etree.fromstring(response.content).find(".//{*}Fault")
    assert fault.findtext("faultcode") == "soap:Client"
    return [(e.findtext("{*}Field"), e.findtext("{*}Rule")) for e in fault.iter("{*}Error")]


def test_attacks_are_refused_real_traffic_flows_and_no_person_code_is_left_in_clear(hub_serve, spolis, vsaa, dev_pki):
    url, pid, folder = hub_serve
    listener = Listener()
    sent_codes: set[str] = set()
    rss_before = rss_mb(pid)
    try:
        for hostile in corpus(listener.url):
            check_refusal(url, hostile, signatures=True)
        assert listener.connections == 0
    finally:
        listener.close()

    # forged, tampered and stale senders
    body, records = signed_load(dev_pki, "sopa")
    sent_codes |= {r.person_code for r in records}
    unsigned = etree.fromstring(body)
    security = unsigned.find(".//{*}Security")
    security.getparent().remove(security)
    assert refused(url, "sopa", etree.tostring(unsigned))[0][1] == "signature-required"
    impostor_key, impostor_cert = issue("sopa")
    impostor = etree.fromstring(signed_load(dev_pki, "sopa", records=records)[0])
    impostor.find(".//{*}Security").getparent().remove(impostor.find(".//{*}Security"))
    Signer.from_pem(impostor_key, impostor_cert).sign(impostor)
    assert refused(url, "sopa", etree.tostring(impostor))[0][1] == "certificate-unknown"
    assert refused(url, "sopa", signed_load(dev_pki, "lietis", records=records)[0])[0][1] == "signer-mismatch"
    assert b"<sopa:PaketesId>P-X<" in body
    tampered = body.replace(b"<sopa:PaketesId>P-X<", b"<sopa:PaketesId>P-Y<")
    assert refused(url, "sopa", tampered)[0][1] == "signature-invalid"
    stale = signed_load(dev_pki, "sopa", records=records, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))[0]
    assert refused(url, "sopa", stale)[0][1] == "timestamp-expired"

    # rights and receipts
    code = person_code(random.Random(91))
    sent_codes.add(code)
    gvs = HubClient(url, sender="gvs", retries=0, signer=signer_for("gvs", dev_pki))
    answer = gvs.call(ep51(code), destination="vsaa", user_id="kandava.02", purpose="test")
    gvs.close()
    assert answer.fault is not None and [e.rule for e in answer.fault.errors] == ["not-authorised"]
    assert vsaa.calls == 0

    # real, signed traffic: loads (some SPOLIS refuses) and queries
    sopa = HubClient(url, sender="sopa", retries=3, signer=signer_for("sopa", dev_pki))
    submitted: list[Submitted] = []
    for n in range(4):
        batch = factory(900 + n).batch(25, unregistered_share=0.1)
        sent_codes |= {r.person_code for r in batch}
        submitted.append(
            sopa.submit(from_canonical(batch, RIGA, f"P-{n}"), destination="spolis", user_id="u.7", records=25)
        )
    assert all(s.accepted for s in submitted), [s.fault for s in submitted]
    for n in range(5):
        asked = person_code(random.Random(300 + n))
        sent_codes.add(asked)
        assert (
            sopa.call(ep51(asked), destination="vsaa", user_id="rsd.014", purpose="lēmuma sagatavošana").fault is None
        )
    lietis = HubClient(url, sender="lietis", retries=0, signer=signer_for("lietis", dev_pki))
    other = lietis.status(submitted[0].receipt_id, destination="hub", user_id="u")
    lietis.close()
    assert [e.rule for e in other.fault.errors] == ["unknown-id"]
    ids = {m for s in submitted for m in s.message_ids}

    def failed_once_settled() -> list[int]:
        """When every record is delivered or failed, how many failed (in a list, so that 0 is an answer)."""
        answers = [sopa.status(s.receipt_id, destination="hub", user_id="u.7") for s in submitted]
        if all(a.fault is None and a.body.findtext("{*}Accepted") == "0" for a in answers):
            return [sum(int(a.body.findtext("{*}Failed")) for a in answers)]
        return []

    (failed,) = wait_for(failed_once_settled, timeout=120)
    sopa.close()
    assert spolis.store.stats()["records"] > 0 and set(spolis.store.message_ids()) <= ids
    assert rss_mb(pid) - rss_before < 400, "the corpus must not leave the hub holding its megabytes"

    # A failure's last step, after its status, message-log row and counters, is its line in the log:
    # once each failure's is there, the log and the database hold all they will about these records.
    log = wait_for(
        lambda: (
            (text := (folder / "hub.log").read_text(encoding="utf-8")).count("message failed for good") >= failed
            and text
        ),
        timeout=30,
    )
    assert '"error_class":"unauthenticated"' in log and '"msg":"request refused"' in log
    stores = b"".join(p.read_bytes() for p in folder.glob("hub.sqlite3*"))
    delivered = spolis.store._db.execute("SELECT person_code FROM records").fetchall()
    assert delivered and {c for (c,) in delivered} <= sent_codes, "the search is for codes that really travelled"
    for code in sent_codes:
        for form in (code, code.replace("-", "")):
            assert form not in log, f"a person code in the log ({form[:2]}…)"
            assert form.encode() not in stores, f"a person code in the database in clear ({form[:2]}…)"


def post(url: str, sender: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/soap/{sender}", content=body, headers={"Content-Type": "text/xml"}, timeout=30)


def with_second_header(message: bytes, **changes: str) -> bytes:
    """A captured message with an unsigned second VISS header after the signed one (the wrapping that
    once gave a second receipt and a forged user in the audit)."""
    root = etree.fromstring(message)
    signed_header = root.find(".//{urn:lv:welfare-hub:viss-header:v1}MessageHeader")
    forged = etree.fromstring(etree.tostring(signed_header))
    forged.attrib.clear()
    for name, value in changes.items():
        forged.find(f"{{urn:lv:welfare-hub:viss-header:v1}}{name}").text = value
    signed_header.addnext(forged)
    return etree.tostring(root)


def test_captured_messages_wrapped_or_replayed_cause_no_second_effect(hub_serve, spolis, vsaa, dev_pki):
    url, _, folder = hub_serve
    load, records = signed_load(dev_pki, "sopa")
    first = post(url, "sopa", load)
    assert first.status_code == 200, first.text[:500]
    receipt_id = etree.fromstring(first.content).findtext(".//{*}ReceiptID")
    wait_for(lambda: spolis.store.stats()["records"] == len(records), timeout=60)

    for attack in (
        with_second_header(load, MessageID=str(uuid.uuid4())),
        with_second_header(load, MessageID=str(uuid.uuid4()), UserId="attacker"),
        load.replace(
            b"</soap:Body>",
            b"</soap:Body>" + load[load.index(b"<soap:Body") : load.index(b"</soap:Body>")] + b"</soap:Body>",
        ),
    ):
        assert refused(url, "sopa", attack)[0][1] == "duplicate-element"
    again = post(url, "sopa", load)  # byte for byte: idempotent, the same receipt
    assert again.status_code == 200 and etree.fromstring(again.content).findtext(".//{*}ReceiptID") == receipt_id

    sopa = signer_for("sopa", dev_pki)
    header = MessageHeader(
        message_id=uuid.uuid4(),
        message_type="urn:lv:vsaa:e-pakalpojumi:v1#EP51Pieprasijums",
        sender="sopa",
        destination="vsaa",
        user_id="rsd.soc.darbinieks.014",
        purpose="lēmuma sagatavošana",
    )
    query = build_envelope(ep51(person_code(random.Random(5))), header, sopa)
    assert post(url, "sopa", query).status_code == 200
    assert refused(url, "sopa", query)[0] == ("Envelope/Header/MessageHeader/MessageID", "message-id-replayed")
    assert refused(url, "sopa", with_second_header(query, MessageID=str(uuid.uuid4()), UserId="attacker"))[0][1] == (
        "duplicate-element"
    )

    # None of the attacks was published: the hub received the load's records once; once they are counted
    # delivered, nothing more is on its way to SPOLIS
    assert metric(url, "hub_messages_received_total") == len(records)
    wait_for(lambda: metric(url, "hub_messages_delivered_total") == len(records), timeout=30)
    assert sorted(spolis.store.message_ids()) == sorted(
        r.get("messageId") for r in etree.fromstring(first.content).iter("{*}Record")
    ), "each record reached SPOLIS once"
    assert vsaa.calls == 1
    with sqlite3.connect(folder / "hub.sqlite3") as db:
        asked = db.execute("SELECT operator FROM audit_log WHERE action = 'query'").fetchall()
    assert asked == [("rsd.soc.darbinieks.014",)], "the legal trail names the signer's user, once"


def test_bombs_before_authentication_are_refused_at_once_while_a_real_load_is_answered(hub_serve, dev_pki):
    """Each refusal comes within a bound (the bench measures how fast: `python -m bench --only refusals`),
    and a real load sent while they keep coming gets its receipt."""
    url, _, _ = hub_serve
    attacks = bombs(signed_load(dev_pki, "sopa")[0])  # only SOPA's public certificate in them
    for name, data in attacks.items():
        assert len(data) < 8 << 20, name
        started = time.perf_counter()
        assert refused(url, "sopa", data)[0][1] in ("max-attributes", "max-namespaces", "signature-invalid"), name
        assert time.perf_counter() - started < BOUND_SECONDS, name
    stop = threading.Event()

    def keep_bombing() -> None:
        while not stop.is_set():
            for data in attacks.values():
                post(url, "sopa", data)

    bombers = [threading.Thread(target=keep_bombing) for _ in range(4)]
    for thread in bombers:
        thread.start()
    try:
        # a partner resends what the hub answers "retry later" for: the gateway's one core is shared
        sopa = HubClient(url, sender="sopa", retries=3, signer=signer_for("sopa", dev_pki))
        records = factory(77).batch(50)
        submitted = sopa.submit(from_canonical(records, RIGA, "P-77"), destination="spolis", user_id="u", records=50)
        sopa.close()
    finally:
        stop.set()
        for thread in bombers:
            thread.join()
    assert submitted.accepted, submitted.fault
    assert len(submitted.message_ids) == 50
