"""The gateway over real HTTP, on the embedded broker and on RabbitMQ: receipts only for what
reached the broker, Faults that name field and rule, resends that cause no second effect."""

from __future__ import annotations

import re
import uuid

import httpx
from lxml import etree

from hub.contracts.samples import SCHEMAS
from hub.gateway.reader import record_message_ids
from hub.simulation.client import HubClient
from hub.soap import HUB_NS, SOAP11_NS, parse_fault
from tests.helpers import body_of, metric, post, sample, wait_for


def test_receipt_then_delivery_exactly_once(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    received, delivered = metric(hub, "hub_messages_received_total"), metric(hub, "hub_messages_delivered_total")
    response = post(hub, "sopa", sample("sopa", "mixed-load"))
    assert response.status_code == 200, response.text
    receipt = body_of(response)
    assert receipt.tag == f"{{{HUB_NS}}}Receipt"
    ids = [r.get("messageId") for r in receipt.iterfind(f"{{{HUB_NS}}}Record")]
    assert len(ids) == int(receipt.findtext(f"{{{HUB_NS}}}RecordCount")) == 12
    wait_for(lambda: spolis.store.stats()["records"] == 12)
    assert sorted(spolis.store.message_ids()) == sorted(ids)

    again = post(hub, "sopa", sample("sopa", "mixed-load"))
    assert again.status_code == 200
    assert body_of(again).findtext(f"{{{HUB_NS}}}ReceiptID") == receipt.findtext(f"{{{HUB_NS}}}ReceiptID")
    # the resend was answered from the store, nothing published again: once the twelve published are
    # counted delivered, nothing more is on its way to SPOLIS
    assert metric(hub, "hub_messages_received_total") == received + 12
    wait_for(lambda: metric(hub, "hub_messages_delivered_total") == delivered + 12)
    assert spolis.store.stats()["records"] == 12 and spolis.store.stats()["duplicates"] == 0


def test_the_status_query_follows_a_receipt_to_delivery(start_hub, spolis):
    hub = start_hub()
    client = HubClient(hub.gateway_url, sender="lietis")
    post(hub, "lietis", sample("lietis", "benefits"))
    receipt_id = etree.fromstring(sample("lietis", "benefits")).findtext(
        ".//{urn:lv:welfare-hub:viss-header:v1}MessageID"
    )

    def delivered():
        answer = client.status(receipt_id, destination="spolis", user_id="dslp.inspektors.07")
        assert answer.fault is None, answer.fault
        return answer.body.findtext(f"{{{HUB_NS}}}Delivered") == "3" and answer

    answer = wait_for(delivered)
    assert answer.header is not None and answer.header.sender == "lietis"
    statuses = [r.findtext(f"{{{HUB_NS}}}Status") for r in answer.body.iterfind(f"{{{HUB_NS}}}Record")]
    assert statuses == ["delivered"] * 3
    unknown = client.status(str(uuid.uuid4()), destination="spolis", user_id="dslp.inspektors.07")
    assert unknown.fault is not None and unknown.fault.errors[0].rule == "unknown-id"
    client.close()


def test_a_fault_echoes_the_request_header(start_hub):
    hub = start_hub()
    refused = post(hub, "sopa", (SCHEMAS / "sopa" / "samples" / "invalid" / "bad-person-code.xml").read_bytes())
    header = etree.fromstring(refused.content).find(
        f"{{{SOAP11_NS}}}Header/{{urn:lv:welfare-hub:viss-header:v1}}MessageHeader"
    )
    assert header is not None and header.findtext("{urn:lv:welfare-hub:viss-header:v1}Sender") == "sopa"


def test_a_message_id_reused_for_other_content_is_refused(start_hub):
    hub = start_hub()
    original = sample("gvs", "benefits")
    assert post(hub, "gvs", original).status_code == 200
    changed = original.replace(b"<gvs:SummaCenti>", b"<gvs:SummaCenti>1", 1)
    fault = parse_fault(body_of(post(hub, "gvs", changed)))
    assert fault.errors[0].rule == "message-id-reuse"


def test_transport_level_refusals(start_hub):
    hub = start_hub(max_request_bytes=4096)
    big = post(hub, "sopa", sample("sopa", "mixed-load"))
    assert big.status_code == 413 and parse_fault(body_of(big)).errors[0].rule == "max-size"
    soap12 = post(hub, "sopa", b"<x/>", headers={"Content-Type": "application/soap+xml"})
    assert parse_fault(body_of(soap12)).errors[0].rule == "soap-version"
    garbage = post(hub, "sopa", b"\x00\x01garbage")
    assert garbage.status_code == 500 and parse_fault(body_of(garbage)).code == "Client"
    assert httpx.post(f"{hub.gateway_url}/soap/nobody", content=b"<x/>").status_code == 404
    assert httpx.post(f"{hub.gateway_url}/soap/vsaa", content=b"<x/>").status_code == 404


def test_wsdl_and_schemas_are_served_with_absolute_locations(start_hub):
    hub = start_hub()
    wsdl = httpx.get(f"{hub.gateway_url}/soap/sopa?wsdl")
    assert wsdl.status_code == 200
    root = etree.fromstring(wsdl.content)
    locations = [i.get("schemaLocation") for i in root.iter("{http://www.w3.org/2001/XMLSchema}import")]
    assert locations and all(loc.startswith(hub.gateway_url) for loc in locations)
    for location in locations:
        assert httpx.get(location).status_code == 200
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    assert address == f"{hub.gateway_url}/soap/sopa"
    assert httpx.get(f"{hub.gateway_url}/schemas/../pyproject.toml").status_code == 404


def test_health_readiness_and_metrics(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    assert httpx.get(f"{hub.gateway_url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{hub.gateway_url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["broker_connected"] is True
    benefit = {"flow": "F1", "source": "sopa", "type": "social_assistance.benefit.v1"}
    received = metric(hub, "hub_messages_received_total", benefit)
    delivered = metric(hub, "hub_messages_delivered_total", {**benefit, "target": "spolis"})
    assert post(hub, "sopa", sample("sopa", "benefits")).status_code == 200
    wait_for(lambda: spolis.store.stats()["records"] == 3)
    assert metric(hub, "hub_messages_received_total", benefit) == received + 3
    wait_for(lambda: metric(hub, "hub_messages_delivered_total", {**benefit, "target": "spolis"}) == delivered + 3)
    metrics = httpx.get(f"{hub.gateway_url}/metrics").text
    assert "hub_delivery_latency_seconds_bucket" in metrics
    assert not re.search(r"[0-3][0-9]{5}-[0-9]{5}", metrics), "a person code in the metrics"


def test_a_worker_only_process_serves_metrics_and_health_but_no_soap(start_hub, spolis):
    hub = start_hub(gateway=False)
    assert httpx.get(f"{hub.gateway_url}/readyz").json()["checks"]["workers_connected"] is True
    assert "hub_delivery_latency_seconds" in httpx.get(f"{hub.gateway_url}/metrics").text
    assert post(hub, "sopa", sample("sopa", "benefits")).status_code == 404


def test_record_ids_stay_what_this_release_gives_and_a_load_s_ids_sit_together():
    """A resend the store does not know must carry the same ids, or targets would not recognise it;
    a load's ids share their first half, so its status rows sit together in the index."""
    ids = record_message_ids(uuid.UUID("a3c1e2d4-0000-4000-8000-000000000001"))
    assert (str(ids(1)), str(ids(2)), str(ids(1000))) == (
        "32e4bbf7-5054-8782-af92-7ad630cfe339",
        "32e4bbf7-5054-8782-9ee6-5ca8813dff6c",
        "32e4bbf7-5054-8782-8aa3-767aa1c840e0",
    )
    assert (ids(1).version, ids(1).variant) == (8, uuid.RFC_4122)
    other = record_message_ids(uuid.UUID("a3c1e2d4-0000-4000-8000-000000000002"))
    assert str(other(1))[:18] != str(ids(1))[:18]
