"""Attacks from outside on a running `hub serve` (RabbitMQ, signatures required): hostile XML, forged
senders, tampered and stale messages, rights a partner does not have, other partners' receipts. Each
is refused with its rule while real, signed traffic goes through; afterwards the hub's log and its
database files are searched for every person code that was sent, and none is there in clear."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.sopa.dialect import from_canonical
from hub.devpki import issue
from hub.settings import PROJECT_ROOT
from hub.simulation.client import HubClient, Submitted
from hub.simulation.people import person_code
from hub.simulation.pki import hub_verifier, signer_for
from hub.soap import MessageHeader, build_envelope
from hub.soap.signature import Signer
from tests.conftest import serve_env
from tests.hub.hostile import corpus
from tests.hub.test_gateway import wait_for
from tests.hub.test_hostile_input import Listener, check_refusal
from tests.hub.test_worker import RIGA, factory
from tests.integration.test_queries import ep51
from tests.monitoring.test_prometheus import free_port, ready

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
        http_port=str(port),
        endpoints__spolis=spolis.endpoint,
        endpoints__vsaa=vsaa.endpoint,
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

    def settled() -> bool:
        counts = [sopa.status(s.receipt_id, destination="hub", user_id="u.7") for s in submitted]
        return all(a.fault is None and a.body.findtext("{*}Accepted") == "0" for a in counts)

    wait_for(settled, timeout=120)
    sopa.close()
    assert spolis.store.stats()["records"] > 0 and set(spolis.store.message_ids()) <= ids
    assert rss_mb(pid) - rss_before < 400, "the corpus must not leave the hub holding its megabytes"

    time.sleep(1)
    log = (folder / "hub.log").read_text(encoding="utf-8")
    assert '"error_class":"unauthenticated"' in log and '"msg":"request refused"' in log
    stores = b"".join(p.read_bytes() for p in folder.glob("hub.sqlite3*"))
    delivered = spolis.store._db.execute("SELECT person_code FROM records").fetchall()
    assert delivered and {c for (c,) in delivered} <= sent_codes, "the search is for codes that really travelled"
    for code in sent_codes:
        for form in (code, code.replace("-", "")):
            assert form not in log, f"a person code in the log ({form[:2]}…)"
            assert form.encode() not in stores, f"a person code in the database in clear ({form[:2]}…)"
