"""With signatures required the gateway serves only the system that signed, and the hub signs what
it sends: the SPOLIS simulator, like the real state systems, takes only what the hub signed."""

from __future__ import annotations

import copy
import uuid

import pytest
from lxml import etree

from adapters.sopa.dialect import from_canonical
from hub.simulation.client import HubClient
from hub.simulation.pki import hub_verifier, signer_for
from hub.soap import HUB_NS
from hub.store.failed import Filter
from tests.helpers import RIGA, body_of, factory, post, sample, signed, wait_for


@pytest.fixture
def hub(start_hub, spolis, dev_pki):
    spolis.service.server.verifier = hub_verifier(dev_pki)
    return start_hub(**signed(dev_pki))


def send(hub, sender: str, signer_system: str | None, dev_pki, records):  # type: ignore[no-untyped-def]
    signer = signer_for(signer_system, dev_pki) if signer_system else None
    client = HubClient(hub.gateway_url, sender=sender, retries=0, signer=signer)
    try:
        return client.submit(
            from_canonical(records, RIGA, "P-1"), destination="spolis", user_id="u.1", records=len(records)
        )
    finally:
        client.close()


def test_a_signed_load_is_delivered_and_the_hub_signs_what_it_sends(hub, spolis, dev_pki):
    records = factory(21).batch(4)
    submitted = send(hub, "sopa", "sopa", dev_pki, records)
    assert submitted.accepted, submitted.fault
    wait_for(lambda: spolis.store.stats()["records"] == 4, timeout=30)
    assert sorted(spolis.store.message_ids()) == sorted(submitted.message_ids)


def test_unsigned_requests_are_refused_and_nothing_is_kept(hub, spolis):
    response = post(hub, "sopa", sample("sopa", "benefits"))
    fault = body_of(response)
    assert response.status_code == 500 and fault.findtext("faultcode") == "soap:Client"
    detail = etree.tostring(fault).decode()
    assert "unauthenticated" in detail and "signature-required" in detail
    assert hub.store.counts() == {}


@pytest.mark.parametrize(
    ("sender", "signer", "field"),
    [
        ("sopa", "lietis", "Envelope/Header/MessageHeader/Sender"),  # LIETIS's key, sent as SOPA
        ("lietis", "sopa", "Envelope/Header/MessageHeader/Sender"),  # SOPA's key, sent as LIETIS
    ],
)
def test_a_message_signed_by_another_system_than_it_claims_is_refused(hub, dev_pki, sender, signer, field):
    submitted = send(hub, sender, signer, dev_pki, factory(22).batch(1))
    assert submitted.fault is not None and submitted.fault.error_class == "unauthenticated"
    assert [(e.field, e.rule) for e in submitted.fault.errors] == [(field, "signer-mismatch")]
    assert hub.store.counts() == {}


def test_a_target_that_demands_the_hub_s_signature_refuses_an_unsigned_hub(start_hub, spolis, dev_pki):
    spolis.service.server.verifier = hub_verifier(dev_pki)
    hub = start_hub()  # signatures off: the hub calls SPOLIS unsigned
    client = HubClient(hub.gateway_url, sender="sopa", retries=0)
    submitted = client.submit(
        from_canonical(factory(23).batch(1), RIGA, "P-2"), destination="spolis", user_id="u", records=1
    )
    client.close()
    assert submitted.accepted
    wait_for(lambda: hub.store.counts().get("failed") == 1, timeout=30)
    (stored,) = hub.failed.find(Filter())
    assert stored.error_class == "target_rejected" and "signature-required" in stored.error_message
    assert spolis.store.stats()["records"] == 0


def test_a_resent_message_signed_again_gets_the_same_receipt(hub, dev_pki):
    """A resend is signed anew (a fresh timestamp) under the same MessageID: still one receipt."""
    client = HubClient(hub.gateway_url, sender="sopa", retries=0, signer=signer_for("sopa", dev_pki))
    body = from_canonical(factory(24).batch(2), RIGA, "P-3")
    message_id = uuid.uuid4()
    answers = [
        client.call(copy.deepcopy(body), destination="spolis", user_id="u", message_id=message_id) for _ in range(2)
    ]
    client.close()
    assert [a.fault for a in answers] == [None, None]
    assert {a.body.findtext(f"{{{HUB_NS}}}ReceiptID") for a in answers} == {str(message_id)}
    assert hub.store.counts() == {"accepted": 2} or sum(hub.store.counts().values()) == 2
