"""Where data loads are prepared. The gateway's pool of preparing processes (HUB_GATEWAY_PROCESSES):
loads large enough to go there are accepted, delivered and refused exactly as in the gateway's own
threads, and a pool process that dies costs one retryable Fault, not the gateway. Without a pool, the
gateway's threads prepare two loads at a time, however many arrive."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import kombu
import pytest
from lxml import etree

from adapters.sopa.dialect import NS as SOPA_NS
from adapters.sopa.dialect import from_canonical
from hub.errors import FieldError, Unauthenticated
from hub.gateway.app import INLINE_READ_BYTES
from hub.gateway.pool import ReceptionPool
from hub.gateway.reception import Reception
from hub.simulation.local import free_port
from hub.simulation.records import RecordFactory
from hub.soap import HUB_NS, MessageHeader, build_envelope, parse_fault
from hub.store.status import RecordRow
from hub.systems import discover
from tests.helpers import RIGA, body_of, post, ready, serve, serve_env, wait_for


def load(records: int, seed: int, message_id: uuid.UUID | None = None) -> tuple[bytes, etree._Element]:
    """A SOPA data load of `records` records for SPOLIS (unsigned: these hubs run without signatures)."""
    factory = RecordFactory(municipality=RIGA, record_prefix="P", decision_prefix="P", rng=random.Random(seed))
    body = from_canonical(factory.batch(records), RIGA, f"POOL-{seed}")
    header = MessageHeader(
        message_id=message_id or uuid.uuid4(),
        message_type=MessageHeader.message_type_of(body),
        sender="sopa",
        destination="spolis",
        user_id="rsd.soc.darbinieks.014",
    )
    return build_envelope(body, header), body


def pool_processes() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("SpawnProcess")]


def test_a_refusal_crosses_processes_whole():
    refused = Unauthenticated([FieldError("Envelope/Header/Security", "signature-invalid", "does not verify", 3)])
    again = pickle.loads(pickle.dumps(refused))
    assert type(again) is Unauthenticated
    assert (again.errors, str(again)) == (refused.errors, str(refused))


def test_an_adapter_crosses_processes_as_its_name():
    sopa = discover()["sopa"]
    assert pickle.loads(pickle.dumps(sopa)) is sopa


def test_a_load_prepared_in_the_pool_is_delivered_once(start_hub, amqp_url, spolis):
    hub = start_hub(amqp_url, gateway_processes=1)
    data, _ = load(120, seed=1)
    assert len(data) > INLINE_READ_BYTES, "small requests never reach the pool"
    (process,) = pool_processes()
    os.kill(process.pid, signal.SIGSTOP)  # the load waits for the pool's process: it is prepared there
    try:
        with ThreadPoolExecutor(1) as caller:
            answer = caller.submit(post, hub, "sopa", data)
            # a load prepared anywhere but in the stopped process is answered well within this wait
            time.sleep(1.0)
            assert not answer.done(), "the load was prepared without the pool"
            os.kill(process.pid, signal.SIGCONT)
            response = answer.result(timeout=30)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert response.status_code == 200, response.text
    receipt = body_of(response)
    ids = [r.get("messageId") for r in receipt.iterfind(f"{{{HUB_NS}}}Record")]
    assert len(ids) == int(receipt.findtext(f"{{{HUB_NS}}}RecordCount")) == 120
    wait_for(lambda: spolis.store.stats()["records"] == 120)
    assert sorted(spolis.store.message_ids()) == sorted(ids)

    again = post(hub, "sopa", data)  # a resend: the pool prepares it, the store knows it
    assert again.status_code == 200
    assert [r.get("messageId") for r in body_of(again).iterfind(f"{{{HUB_NS}}}Record")] == ids
    assert spolis.store.stats()["duplicates"] == 0


def test_a_message_id_used_again_for_another_load_is_refused_by_the_pool(start_hub, spolis):
    hub = start_hub(gateway_processes=1)
    message_id = uuid.uuid4()
    first, _ = load(120, seed=4, message_id=message_id)
    assert post(hub, "sopa", first).status_code == 200
    other, _ = load(120, seed=5, message_id=message_id)
    response = post(hub, "sopa", other)
    fault = parse_fault(body_of(response))
    assert (fault.code, [e.rule for e in fault.errors]) == ("Client", ["message-id-reuse"])
    assert f"<vh:MessageID>{message_id}</vh:MessageID>" in response.text, "the Fault answers the request's header"
    wait_for(lambda: hub.store.counts() == {"delivered": 120})  # nothing of the second load was kept
    assert spolis.store.stats()["records"] == 120


def test_a_load_stored_pending_with_earlier_ids_keeps_them_when_sent_again(start_hub, spolis):
    """An earlier release stored the rows (uuid5 ids) and published, then ended before the receipt:
    the targets may know the records by those ids, so the resend must carry them."""
    hub = start_hub(gateway_processes=1)
    message_id = uuid.uuid4()
    data, body = load(120, seed=6, message_id=message_id)
    earlier = [
        str(uuid.uuid5(uuid.UUID("6f1c7f3e-8a52-4f0e-9a7e-2b1d7c1e5a10"), f"{message_id}/{i}")) for i in range(1, 121)
    ]
    rows = [RecordRow(m, i, f"P-{i}", "spolis", "social_assistance.benefit.v1") for i, m in enumerate(earlier, 1)]
    hub.store.add_pending(str(message_id), "sopa", rows, dt.datetime.now(dt.UTC))
    response = post(hub, "sopa", data)
    assert response.status_code == 200, response.text
    assert [r.get("messageId") for r in body_of(response).iterfind(f"{{{HUB_NS}}}Record")] == earlier
    wait_for(lambda: spolis.store.stats()["records"] == 120)
    assert sorted(spolis.store.message_ids()) == sorted(earlier)
    wait_for(lambda: hub.store.counts() == {"delivered": 120})


def test_a_refusal_from_the_pool_names_field_and_rule(start_hub, spolis):
    hub = start_hub(gateway_processes=1)
    data, body = load(120, seed=2)
    codes = body.iter(f"{{{SOPA_NS}}}PersonasKods")
    for _ in range(3):
        code = next(codes)
    wrong = code.text[:-1] + str((int(code.text[-1]) + 1) % 10)
    data = data.replace(code.text.encode(), wrong.encode(), 1)
    response = post(hub, "sopa", data)
    fault = parse_fault(body_of(response))
    assert fault.code == "Client" and fault.error_class == "validation"
    assert [(e.rule, e.field.rsplit("/", 1)[-1]) for e in fault.errors] == [("person-code-checksum", "PersonasKods")]
    assert fault.errors[0].line is not None
    assert spolis.store.stats()["records"] == 0


def test_a_pool_process_that_dies_costs_one_retryable_fault(start_hub, spolis):
    hub = start_hub(gateway_processes=1)
    (process,) = pool_processes()
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    data, _ = load(120, seed=3)
    first = post(hub, "sopa", data)
    fault = parse_fault(body_of(first))
    assert (fault.code, fault.retry) == ("Server", True), fault
    assert "send it again" in fault.string
    second = post(hub, "sopa", data)
    assert second.status_code == 200, second.text
    wait_for(lambda: spolis.store.stats()["records"] == 120)


def _cannot_build() -> Reception:
    raise ValueError("no schemas here")


def _no_logs() -> None:
    """Pool processes keep Python's default logging here."""


def test_a_pool_that_cannot_start_says_so_at_once():
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="preparing processes did not start"):
        ReceptionPool(1, _cannot_build, _no_logs, timeout=60)
    assert time.monotonic() - started < 30, "a process that failed to build does not leave the gateway waiting"


def test_without_a_pool_the_gateway_takes_two_loads_at_a_time(start_hub, spolis, monkeypatch):
    """One GIL runs one thread's Python at a time: more loads at once only starve each other and the
    publisher's thread, which once left a load waiting almost a second with ten at once."""
    preparing, most = 0, 0
    lock = threading.Lock()
    take = Reception.take

    def counted(self, context, data):  # type: ignore[no-untyped-def]
        nonlocal preparing, most
        with lock:
            preparing += 1
            most = max(most, preparing)
        try:
            time.sleep(0.2)  # long enough for every load sent to be waiting
            return take(self, context, data)
        finally:
            with lock:
                preparing -= 1

    monkeypatch.setattr(Reception, "take", counted)
    hub = start_hub(workers=False)
    loads = [load(120, seed=20 + n)[0] for n in range(6)]
    with ThreadPoolExecutor(len(loads)) as callers:
        answers = list(callers.map(lambda data: post(hub, "sopa", data), loads))
    assert [a.status_code for a in answers] == [200] * len(loads)
    assert most == 2
    assert hub.store.counts() == {"accepted": 120 * len(loads)}


def _pool_process_of(gateway: int) -> int:
    """The pid of a `hub serve` process's one preparing process (its other child tracks semaphores)."""
    for child in Path(f"/proc/{gateway}/task/{gateway}/children").read_text().split():
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
            return int(child)
    raise AssertionError("the gateway has no preparing process")


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_ctrl_c_ends_the_gateway_after_the_load_its_pool_is_preparing(amqp_url, broker_prefix, dev_pki, tmp_path):
    """A terminal's Ctrl-C signals every process of the group: it is for the gateway, which answers the
    loads in flight and then ends its pool, not for the pool's processes."""
    port = free_port()
    log = tmp_path / "hub.log"
    env = serve_env(amqp_url, broker_prefix, tmp_path, dev_pki, signatures="off", gateway_processes=1)
    gateway = serve("gateway", port, env, log, new_session=True)
    try:
        wait_for(lambda: ready(port), timeout=60)
        preparing = _pool_process_of(gateway.pid)
        data, _ = load(120, seed=7)
        os.kill(preparing, signal.SIGSTOP)  # the load waits in the pool while the signal comes
        with ThreadPoolExecutor(1) as caller:
            answer = caller.submit(
                httpx.post, f"http://127.0.0.1:{port}/soap/sopa", content=data, headers={"Content-Type": "text/xml"}
            )
            # a load prepared anywhere but in the stopped process is answered well within this wait
            time.sleep(1.0)
            assert not answer.done(), "the load was prepared without the pool"
            os.killpg(gateway.pid, signal.SIGINT)
            time.sleep(0.5)  # the signal handled (the gateway shows nothing of it) before the pool goes on
            os.kill(preparing, signal.SIGCONT)
            response = answer.result(timeout=30)
        assert gateway.wait(timeout=60) == 0
    finally:
        if gateway.poll() is None:
            os.killpg(gateway.pid, signal.SIGKILL)
            gateway.wait()
    assert response.status_code == 200, response.text
    assert int(body_of(response).findtext(f"{{{HUB_NS}}}RecordCount")) == 120
    with kombu.Connection(amqp_url) as connection:
        queue = connection.channel().queue_declare(f"{broker_prefix}.deliver.spolis", passive=True)
    assert queue.message_count == 1, "the load's bundle reached the broker"
    assert "Traceback" not in log.read_text(encoding="utf-8")
