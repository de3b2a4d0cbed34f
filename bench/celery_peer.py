"""The same work done the Celery way, on the same broker, fed by the same load generator and
delivering into the same SPOLIS simulator as the hub:

- ingest (`python -m bench.celery_peer PORT`): a Starlette endpoint (uvicorn); lxml parses and
  validates the request against SOPA's XSD, the hub's SOPA mapping makes canonical records, and
  each record becomes a `deliver` task (`apply_async`, publisher confirms on, as Celery waits for
  each);
- delivery (`celery -A bench.celery_peer worker`, prefork, 2 processes, acks late, prefetch
  multiplier 4): each task builds SPOLIS's request for its record with the hub's SPOLIS mapping,
  validates it, posts it over a kept-alive connection and checks SPOLIS's answer.

Settings come from the environment: BENCH_AMQP_URL, BENCH_QUEUE, BENCH_SPOLIS. Like the naive
pipeline it verifies no signature, keeps no status and seals nothing.
"""

from __future__ import annotations

import os
import sys
import uuid

import httpx
import uvicorn
from celery import Celery
from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.sopa.dialect import to_canonical
from adapters.spolis.outbound import from_envelope, submission
from hub.envelope import Envelope
from hub.settings import PROJECT_ROOT
from hub.soap import build_envelope
from hub.xml.schema import Schema

QUEUE = os.environ.get("BENCH_QUEUE", "bench.celery")
app = Celery("bench", broker=os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"))
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_serializer="json",
    worker_prefetch_multiplier=4,
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
SCHEMAS = PROJECT_ROOT / "schemas"
_spolis = Schema(SCHEMAS / "spolis" / "spolis-v1.xsd")
_http: httpx.Client | None = None


@app.task(name="deliver")
def deliver(envelope_json: str) -> None:
    global _http
    _http = _http or httpx.Client(timeout=30)
    item = from_envelope(Envelope.model_validate_json(envelope_json))
    if not _spolis.is_valid(item):
        raise ValueError("not valid for SPOLIS")
    response = _http.post(
        os.environ["BENCH_SPOLIS"],
        content=build_envelope(submission([item])),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
    )
    if response.status_code != 200 or b"PIENEMTS" not in response.content and b"DUBLIKATS" not in response.content:
        raise RuntimeError(f"SPOLIS answered {response.status_code}")


def gateway(port: int) -> None:
    schema = Schema(SCHEMAS / "sopa" / "sopa-v1.xsd")

    def take(data: bytes) -> int:
        body = etree.fromstring(data).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
        if schema.errors(body):
            raise ValueError("not valid")
        receipt = uuid.uuid4()
        records = to_canonical(body)
        for record, _ in records:
            message = Envelope.of(record, source="sopa", target="spolis", user_id="celery", correlation_id=receipt)
            deliver.apply_async(args=[message.to_json().decode()])
        return len(records)

    async def soap(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"accepted {await run_in_threadpool(take, await request.body())}")

    uvicorn.run(Starlette(routes=[Route("/soap/sopa", soap, methods=["POST"])]), port=port, log_level="warning")


if __name__ == "__main__":
    gateway(int(sys.argv[1]))
