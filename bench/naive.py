"""The pipeline an integrator would build with the obvious tools, on the same broker, fed by the same
load generator and delivering into the same SPOLIS simulator as the hub:

- ingest (`python -m bench.naive gateway PORT URL QUEUE`): a Starlette endpoint (uvicorn, a thread
  per request, a pika connection per thread); zeep parses each SOAP request with the hub's WSDL for
  SOPA, xmlschema validates the body against SOPA's XSD, the hub's own SOPA mapping makes canonical
  records (the same translation), and each record is published as JSON to a durable quorum queue,
  waiting for the broker's confirm before the next;
- delivery (`python -m bench.naive worker URL QUEUE SPOLIS`): pika consumes with manual acks
  (prefetch 50); for each record zeep calls SPOLIS's IesniegtIerakstus with that one record, then
  the message is acked.

It verifies no signature, keeps no status and seals nothing: less work than the hub does.
"""

from __future__ import annotations

import sys
import threading
import uuid

import pika
import uvicorn
import xmlschema
import zeep
from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.sopa.dialect import to_canonical
from adapters.spolis.outbound import from_envelope, submission
from hub.broker.rabbit import pika_parameters
from hub.envelope import Envelope
from hub.settings import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "schemas"
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"


def declare(url: str, queue: str) -> None:
    (parameters,) = pika_parameters(url, "naive")
    with pika.BlockingConnection(parameters) as connection:
        connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})


def gateway(port: int, url: str, queue: str) -> None:
    client = zeep.Client(str(SCHEMAS / "sopa" / "sopa-hub-v1.wsdl"))
    operation = next(iter(client.wsdl.bindings.values())).get("IesniegtDatuPaketi")
    schema = xmlschema.XMLSchema(str(SCHEMAS / "sopa" / "sopa-v1.xsd"))
    (parameters,) = pika_parameters(url, "naive-gateway")
    local = threading.local()

    def channel():  # type: ignore[no-untyped-def]
        if not hasattr(local, "channel"):
            local.channel = pika.BlockingConnection(parameters).channel()
            local.channel.confirm_delivery()
        return local.channel

    def take(data: bytes) -> int:
        envelope = etree.fromstring(data)
        operation.input.deserialize(envelope)  # zeep reads the request
        body = envelope.find(SOAP_BODY)[0]
        schema.validate(body)  # xmlschema says whether it is valid
        records = to_canonical(body)
        receipt = uuid.uuid4()
        for record, _ in records:
            message = Envelope.of(record, source="sopa", target="spolis", user_id="naive", correlation_id=receipt)
            channel().basic_publish(  # returns once the broker confirmed
                "", queue, message.to_json(), pika.BasicProperties(delivery_mode=2, content_type="application/json")
            )
        return len(records)

    async def soap(request: Request) -> PlainTextResponse:
        count = await run_in_threadpool(take, await request.body())
        return PlainTextResponse(f"accepted {count}")

    declare(url, queue)
    uvicorn.run(Starlette(routes=[Route("/soap/sopa", soap, methods=["POST"])]), port=port, log_level="warning")


def worker(url: str, queue: str, spolis: str) -> None:
    client = zeep.Client(str(SCHEMAS / "spolis" / "spolis-service-v1.wsdl"))
    service = client.create_service(next(iter(client.wsdl.bindings)), spolis)
    request_type = client.get_element("{urn:lv:lm:spolis:ielade:v1}IesniegtIerakstus")
    (parameters,) = pika_parameters(url, "naive-worker")
    declare(url, queue)
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=50)
        for method, _properties, body in channel.consume(queue):
            envelope = Envelope.from_json(body)
            values = request_type.parse(submission([from_envelope(envelope)]), client.wsdl.types)
            service.IesniegtIerakstus(**{name: values[name] for name in values})  # one zeep call per record
            channel.basic_ack(method.delivery_tag)


if __name__ == "__main__":
    if sys.argv[1] == "gateway":
        gateway(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        worker(sys.argv[2], sys.argv[3], sys.argv[4])
