"""Raw limits, measured in the same run as the hub: what the libraries the hub stands on do with
nothing of the hub around them, on one core. Stage figures are read as a share of these.

- parse + validate: lxml's hardened parse of a SOPA data load (SOAP, 100 records) and XSD
  validation of its body, per record;
- publish: pika's SelectConnection to a quorum queue, persistent messages the size of the hub's
  sealed envelopes, publisher confirms pipelined (up to 1,000 in flight);
- consume: pika's BlockingConnection, manual ack per message, the hub workers' prefetch;
- build: lxml building, validating and serialising SPOLIS's request, per record.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pika
from lxml import etree
from pika.adapters.select_connection import SelectConnection

from adapters.sopa.dialect import from_canonical
from bench.outbound_build import measure as measure_build
from hub.broker.codec import BrokerCodec
from hub.broker.rabbit import pika_parameters
from hub.canonical import Municipality
from hub.envelope import Envelope
from hub.settings import PROJECT_ROOT, Settings
from hub.simulation.records import RecordFactory
from hub.soap import MessageHeader, build_envelope, parse_envelope
from hub.soap.signature import Signer
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

RIGA = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
IN_FLIGHT = 1000
PREFETCH: int = Settings.model_fields["prefetch_count"].default  # the window the hub's workers use


def sopa_request(
    body: etree._Element, destination: str, *, signer: Signer | None = None, purpose: str | None = None
) -> bytes:
    """What SOPA sends: `body` in a SOAP request with its VISS header, signed when a signer is given."""
    header = MessageHeader(
        message_id=uuid.uuid4(),
        message_type=MessageHeader.message_type_of(body),
        sender="sopa",
        destination=destination,
        user_id="rsd.soc.darbinieks.014",
        purpose=purpose,
    )
    return build_envelope(body, header, signer)


def sopa_load(records: int, seed: int) -> tuple[bytes, list]:  # type: ignore[type-arg]
    """A SOPA data load, as a SOAP request (unsigned), and its canonical records."""
    batch = RecordFactory(municipality=RIGA, record_prefix="B", decision_prefix="B", rng=random.Random(seed)).batch(
        records
    )
    return sopa_request(from_canonical(batch, RIGA, f"BENCH-{seed}"), "spolis"), batch


def parse_validate_us(records: int) -> float:
    parser = HardenedParser(max_bytes=8 << 20, max_depth=32)
    schema = Schema(PROJECT_ROOT / "schemas" / "sopa" / "sopa-v1.xsd")
    loads = [sopa_load(100, seed)[0] for seed in range(max(records // 100, 1))]
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for data in loads:
            body = parse_envelope(parser.parse(data)).content
            assert schema.is_valid(body)
        rounds.append((time.perf_counter() - started) / (len(loads) * 100))
    return statistics.median(rounds) * 1e6


def envelope_body(codec: BrokerCodec) -> bytes:
    """A body the size of what the hub publishes: one sealed envelope."""
    _, (record, *_) = sopa_load(1, 7)
    envelope = Envelope.of(record, source="sopa", target="spolis", user_id="u", correlation_id=uuid.uuid4())
    return codec.message(envelope, "", "").body


@dataclass
class PipelinedPublisher:
    """Publish `count` messages keeping up to IN_FLIGHT unconfirmed; stop when all are confirmed."""

    parameters: pika.ConnectionParameters
    queue: str
    bodies: Iterator[bytes]
    count: int
    sent: int = 0
    confirmed: int = 0
    started: float = 0.0
    ended: float = 0.0

    def run(self) -> float:
        self.connection = SelectConnection(self.parameters, on_open_callback=self._opened)
        self.connection.ioloop.start()
        return self.count / (self.ended - self.started)

    def _opened(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._channel)

    def _channel(self, channel) -> None:  # type: ignore[no-untyped-def]
        self.channel = channel
        channel.confirm_delivery(self._confirmed)
        self.started = time.perf_counter()
        self._fill()

    def _fill(self) -> None:
        properties = pika.BasicProperties(delivery_mode=2, content_type="application/octet-stream")
        while self.sent < self.count and self.sent - self.confirmed < IN_FLIGHT:
            self.channel.basic_publish("", self.queue, next(self.bodies), properties)
            self.sent += 1

    def _confirmed(self, frame) -> None:  # type: ignore[no-untyped-def]
        method = frame.method
        tag = method.delivery_tag
        self.confirmed = tag if method.multiple else max(self.confirmed, tag)
        if self.confirmed >= self.count:
            self.ended = time.perf_counter()
            self.connection.close()
            self.connection.ioloop.stop()
        else:
            self._fill()


def publish_rate(url: str, queue: str, body: bytes, count: int) -> float:
    """Messages per second, confirmed; declares `queue` as a quorum queue."""
    (parameters,) = pika_parameters(url, "bench-raw")
    with pika.BlockingConnection(parameters) as connection:
        connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    return PipelinedPublisher(parameters, queue, itertools.repeat(body), count).run()


def consume_rate(url: str, queue: str, count: int) -> float:
    """Messages per second taken from `queue` with a manual ack each."""
    (parameters,) = pika_parameters(url, "bench-raw")
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        taken = 0
        started = time.perf_counter()
        for method, _properties, _body in channel.consume(queue, inactivity_timeout=30):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            taken += 1
            if taken == count:
                break
        elapsed = time.perf_counter() - started
        channel.cancel()
    return taken / elapsed


@dataclass(frozen=True)
class RawLimits:
    parse_validate_us: float
    publish_per_s: float
    consume_per_s: float
    build_us: float
    zeep_build_us: float
    body_bytes: int

    @property
    def ingest_per_s(self) -> float:
        """Parse + validate + publish, one record after the other on one core."""
        return 1 / (self.parse_validate_us / 1e6 + 1 / self.publish_per_s)

    @property
    def delivery_per_s(self) -> float:
        """Consume + build the outbound request, one record after the other on one core."""
        return 1 / (1 / self.consume_per_s + self.build_us / 1e6)


def measure(url: str, prefix: str, records: int, codec: BrokerCodec) -> RawLimits:
    queue = f"{prefix}-raw"
    body = envelope_body(codec)
    count = max(records, 2000)
    publish = statistics.median(publish_rate(url, queue, body, count) for _ in range(3))
    consume = consume_rate(url, queue, count * 3)
    build = measure_build(records=min(records, 2000), rounds=3)
    with pika.BlockingConnection(pika_parameters(url, "bench-raw")[0]) as connection:
        connection.channel().queue_delete(queue)
    return RawLimits(parse_validate_us(records), publish, consume, build["lxml"], build["zeep"], len(body))
