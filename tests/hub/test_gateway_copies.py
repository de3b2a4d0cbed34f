"""The same load sent several times at once is published once: one request per MessageID stages and
publishes it, the copies answer its receipt (or its Fault), and SPOLIS is sent each record once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from adapters.sopa.dialect import from_canonical
from hub.soap import HUB_NS, MessageHeader, build_envelope
from tests.helpers import RIGA, SOAP, body_of, factory, metric, postgresql_store, wait_for

COPIES = 6
RECORDS = 100


def load(seed: int, message_id: uuid.UUID) -> bytes:
    body = from_canonical([factory(seed).benefit() for _ in range(RECORDS)], RIGA, "P-1")
    header = MessageHeader(
        message_id=message_id,
        message_type=MessageHeader.message_type_of(body),
        sender="sopa",
        destination="spolis",
        user_id="u.1",
    )
    return build_envelope(body, header, None)


def send_at_once(url: str, data: bytes, copies: int = COPIES) -> list[httpx.Response]:
    start, answers = threading.Barrier(copies), [None] * copies

    def send(n: int) -> None:
        start.wait()
        answers[n] = httpx.post(url, content=data, headers=SOAP, timeout=60)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers  # type: ignore[return-value]


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    with postgresql_store() as url:
        yield url


@pytest.mark.parametrize("processes", [0, 2], ids=["threads", "pool"])
def test_copies_sent_at_once_are_published_once(start_hub, broker_url, spolis, processes):
    hub = start_hub(broker_url, gateway_processes=processes)
    assert_published_once(hub, spolis)


def test_copies_taken_by_processes_sharing_postgresql_are_published_once(start_hub, spolis, pg_store_url):
    assert_published_once(start_hub(gateway_processes=2, store_url=pg_store_url), spolis)


def assert_published_once(hub, spolis) -> None:  # type: ignore[no-untyped-def]
    received = metric(hub, "hub_messages_received_total")
    delivered = metric(hub, "hub_messages_delivered_total")
    answers = send_at_once(f"{hub.gateway_url}/soap/sopa", load(7, uuid.uuid4()))
    assert [a.status_code for a in answers] == [200] * COPIES, [a.text[-1500:] for a in answers if a.status_code != 200]
    receipts = {body_of(a).findtext(f"{{{HUB_NS}}}ReceiptID") for a in answers}
    ids = {tuple(r.get("messageId") for r in body_of(a).iterfind(f"{{{HUB_NS}}}Record")) for a in answers}
    assert len(receipts) == 1 and len(ids) == 1 and len(next(iter(ids))) == RECORDS
    wait_for(lambda: metric(hub, "hub_messages_delivered_total") >= delivered + RECORDS)
    assert metric(hub, "hub_messages_received_total") == received + RECORDS
    stats = spolis.store.stats()
    assert stats["records"] == RECORDS and stats["duplicates"] == 0, stats
    assert sorted(spolis.store.message_ids()) == sorted(next(iter(ids)))
    assert metric(hub, "hub_messages_delivered_total") == delivered + RECORDS


def test_copies_of_a_load_the_broker_refused_all_answer_its_fault_and_none_is_given_a_receipt(start_hub, spolis):
    hub = start_hub()
    message_id = uuid.uuid4()
    hub.publisher.close()  # the broker is gone for this gateway
    answers = send_at_once(f"{hub.gateway_url}/soap/sopa", load(8, message_id))
    assert {a.status_code for a in answers} == {500}
    faults = {body_of(a).findtext("faultstring") for a in answers}
    assert len(faults) == 1 and "retry later" in next(iter(faults)), faults
    assert hub.store.find_receipt(str(message_id)) is None
    assert hub.store.counts().get("accepted", 0) == 0
