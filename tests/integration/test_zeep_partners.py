"""Every sample message, sent by a third-party SOAP client (zeep) built from the WSDL the hub serves
its sender, over HTTP to a hub on RabbitMQ: each is accepted (a receipt with its records) or
answered (a query), as an integrator's client would see it."""

from __future__ import annotations

import uuid

import pytest
import zeep
from lxml import etree

from hub.contracts.catalog import hub_operations
from hub.contracts.samples import valid_samples
from hub.rules.access import AccessTable
from hub.rules.routing import Router
from hub.settings import Settings
from hub.soap import SOAP11_NS
from hub.systems import discover
from tests.helpers import FAST_ROUTES

pytestmark = pytest.mark.rabbitmq

SYSTEMS = discover()
ACCESS = AccessTable.load(Settings().access_file, SYSTEMS, Router.load(FAST_ROUTES, SYSTEMS))
SAMPLES = [s for s in valid_samples() if "status" not in s.path.stem]


def operation_for(sender: str, body: etree._Element) -> str:
    (operation,) = [op.name for op in hub_operations(SYSTEMS[sender], SYSTEMS, ACCESS) if op.input == body.tag]
    return operation


@pytest.fixture
def hub(start_hub, amqp_url, vsaa, vdeavk):  # the query targets answer, the others are not needed to accept
    return start_hub(amqp_url)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_a_zeep_client_sends_the_sample(hub, sample):
    envelope = etree.fromstring(sample.path.read_bytes())
    body = envelope.find(f"{{{SOAP11_NS}}}Body")[0]
    header = envelope.find(f"{{{SOAP11_NS}}}Header")[0]
    client = zeep.Client(f"{hub.gateway_url}/soap/{sample.system}?wsdl")
    values = client.get_element(body.tag).parse(body, client.wsdl.types)
    make_header = client.get_element(header.tag)
    parsed = make_header.parse(header, client.wsdl.types)
    header_values = make_header(**{**{key: parsed[key] for key in parsed}, "MessageID": str(uuid.uuid4())})
    call = getattr(client.service, operation_for(sample.system, body))
    result = call(_soapheaders=[header_values], **{key: values[key] for key in values})
    answer = result.body if hasattr(result, "body") else result
    if hasattr(answer, "ReceiptID"):
        assert answer.RecordCount == len(answer.Record) > 0
    else:
        assert answer is not None
