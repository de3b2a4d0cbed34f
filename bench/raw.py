"""Raw limits, measured in the same run as the hub: what the libraries the hub stands on do with
nothing of the hub around them, on one core. Stage figures are read as a share of these.

- parse + validate: lxml's hardened parse of a SOPA data load (SOAP, 100 records) and XSD
  validation of its body, per record;
- publish: pika's SelectConnection to a quorum queue, persistent messages the size of the hub's
  sealed envelopes, publisher confirms pipelined (up to 1,000 in flight);
- consume: pika's BlockingConnection, manual ack per message, the hub workers' prefetch;
- build: lxml building, validating and serialising SPOLIS's request, per record;
- ingest's cryptography: what the gateway's promises cost in `cryptography` and lxml alone, for the
  ingest limit to be read with it as well as without (the gateway does it all; the raw ingest none);
- the gateway's floor: parse + validate, that cryptography, and the two pieces of the hub's own code
  no load can skip, the mapping into validated canonical models and each record's status row (SQLite):
  what a gateway keeping its promises costs at the least, with nothing of HTTP, staging or publishing.

Each part's CPU is read from this process's own counters (`time.process_time`) beside its wall time:
the CPU a record costs is what the hub's stages are held against.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pika
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from pika.adapters.select_connection import SelectConnection

from adapters.sopa.dialect import from_canonical, to_canonical
from bench.outbound_build import envelopes, lxml_builder
from bench.outbound_build import measure as measure_build
from hub.broker.codec import BrokerCodec
from hub.broker.rabbit import pika_parameters
from hub.canonical import Municipality
from hub.envelope import Envelope, utcnow
from hub.settings import PROJECT_ROOT, Settings
from hub.simulation.records import RecordFactory
from hub.soap import MessageHeader, build_envelope, parse_envelope
from hub.soap.signature import Signer
from hub.store.crypto import Sealer
from hub.store.db import Database
from hub.store.status import RecordRow, StatusStore
from hub.xml.parser import HardenedParser
from hub.xml.schema import Schema

RIGA = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
IN_FLIGHT = 1000
BATCH_OF = 100  # records in a SOPA load, and in the request built for SPOLIS
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


@dataclass(frozen=True)
class Cost:
    """Microseconds per record (or message), on the clock and on this process's CPU counters."""

    wall_us: float
    cpu_us: float


def timed(work: Callable[[], object], count: int) -> Cost:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Cost((time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6)


def median_cost(costs: list[Cost]) -> Cost:
    return Cost(statistics.median(c.wall_us for c in costs), statistics.median(c.cpu_us for c in costs))


class ParseValidate:
    """The raw ingest's own work on a load: the hardened parse and the XSD validation of its body."""

    def __init__(self) -> None:
        self.parser = HardenedParser(max_bytes=8 << 20, max_depth=32)
        self.schema = Schema(PROJECT_ROOT / "schemas" / "sopa" / "sopa-v1.xsd")

    def __call__(self, data: bytes) -> None:
        body = parse_envelope(self.parser.parse(data)).content
        assert self.schema.is_valid(body)


def parse_validate(records: int) -> Cost:
    work = ParseValidate()
    loads = [sopa_load(BATCH_OF, seed)[0] for seed in range(max(records // BATCH_OF, 1))]
    return median_cost([timed(lambda: [work(data) for data in loads], len(loads) * BATCH_OF) for _ in range(3)])


def build(records: int) -> Cost:
    """lxml building, validating and serialising SPOLIS's request, in batches of 100."""
    data = envelopes(records)
    batches = [data[i : i + BATCH_OF] for i in range(0, len(data), BATCH_OF)]
    builder = lxml_builder()
    return median_cost([timed(lambda: [builder(b) for b in batches], len(data)) for _ in range(3)])


class IngestCryptography:
    """What a load's promises cost the gateway in the libraries alone: the sender's signature checked
    (the Body in exclusive C14N, SHA-256, an RSA-2048 verify), the Body canonicalised and digested
    again for the receipt, the request and the bundle sealed (AES-GCM), the receipt signed (RSA-2048).
    The mapping, ids, status rows and the claim are the hub's own work and stay out."""

    SIGNED_INFO = 700  # bytes: about what a SignedInfo with three references canonicalises to

    def __init__(self, bundle_bytes: int) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public = self.key.public_key()
        self.aes = AESGCM(AESGCM.generate_key(bit_length=256))
        self.bundle = os.urandom(bundle_bytes)
        self.signed_info = os.urandom(self.SIGNED_INFO)
        self.signature = self.sign(self.signed_info)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def __call__(self, request: bytes, body: etree._Element) -> None:
        hashlib.sha256(etree.tostring(body, method="c14n", exclusive=True)).digest()
        self.public.verify(self.signature, self.signed_info, padding.PKCS1v15(), hashes.SHA256())
        hashlib.sha256(etree.tostring(body, method="c14n", exclusive=True)).digest()
        self.aes.encrypt(os.urandom(12), request, None)
        self.aes.encrypt(os.urandom(12), self.bundle, None)
        self.sign(self.signed_info)


def _parsed_loads(records: int) -> list[tuple[bytes, etree._Element]]:
    """Loads of 100 as requests and their Bodies, parsed beforehand (their parse is the raw ingest's)."""
    parser = ParseValidate().parser
    requests = [sopa_load(BATCH_OF, seed)[0] for seed in range(max(records // BATCH_OF, 1))]
    return [(data, parse_envelope(parser.parse(data)).content) for data in requests]


def _bodies(records: int) -> list[etree._Element]:
    return [body for _, body in _parsed_loads(records)]


def ingest_cryptography(records: int, envelope_bytes: int) -> Cost:
    """Per record, on loads of 100 parsed beforehand."""
    work = IngestCryptography(envelope_bytes * BATCH_OF)
    loads = _parsed_loads(records)
    return median_cost([timed(lambda: [work(*load) for load in loads], len(loads) * BATCH_OF) for _ in range(3)])


def mapping(records: int) -> Cost:
    """SOPA's fields read into validated canonical models, by the hub's own adapter, per record."""
    bodies = _bodies(records)
    count = len(bodies) * BATCH_OF
    return median_cost([timed(lambda: [to_canonical(body) for body in bodies], count) for _ in range(3)])


def status_rows(records: int) -> Cost:
    """Each record's status row stored by the hub's StatusStore on SQLite (the default store), a load's
    rows in one transaction, per record."""
    loads = [
        [
            RecordRow("", index, record.record_id, "spolis", record.TYPE, body.getroottree().getelementpath(source))
            for index, (record, source) in enumerate(to_canonical(body), start=1)
        ]
        for body in _bodies(records)
    ]
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/rows.sqlite3", Sealer([Fernet.generate_key()]))
        store = StatusStore(db)

        def store_all() -> None:
            for rows in loads:
                store.add_pending(str(uuid.uuid4()), "sopa", [_new_id(row) for row in rows], utcnow())

        try:
            return median_cost([timed(store_all, len(loads) * BATCH_OF) for _ in range(3)])
        finally:
            db.close()


def _new_id(row: RecordRow) -> RecordRow:
    """The row under a message id of its own: each round stores its own rows."""
    return replace(row, message_id=str(uuid.uuid4()))


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
    cpu_started: float = 0.0
    cpu_ended: float = 0.0

    def run(self) -> float:
        """Messages per second, confirmed."""
        self.connection = SelectConnection(self.parameters, on_open_callback=self._opened)
        self.connection.ioloop.start()
        return self.count / (self.ended - self.started)

    @property
    def cost(self) -> Cost:
        return Cost(
            (self.ended - self.started) / self.count * 1e6, (self.cpu_ended - self.cpu_started) / self.count * 1e6
        )

    def _opened(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._channel)

    def _channel(self, channel) -> None:  # type: ignore[no-untyped-def]
        self.channel = channel
        channel.confirm_delivery(self._confirmed)
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
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
            self.ended, self.cpu_ended = time.perf_counter(), time.process_time()
            self.connection.close()
            self.connection.ioloop.stop()
        else:
            self._fill()


def declare(url: str, queue: str) -> None:
    """`queue` as a quorum queue, as the hub declares its own."""
    (parameters,) = pika_parameters(url, "bench-raw")
    with pika.BlockingConnection(parameters) as connection:
        connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})


def publish(url: str, queue: str, body: bytes, count: int) -> Cost:
    """Per message, confirmed; declares `queue`."""
    declare(url, queue)
    (parameters,) = pika_parameters(url, "bench-raw")
    publisher = PipelinedPublisher(parameters, queue, itertools.repeat(body), count)
    publisher.run()
    return publisher.cost


def consume(url: str, queue: str, count: int, each: Callable[[int], None] | None = None) -> Cost:
    """Per message taken from `queue` with a manual ack each; `each(n)` after the n-th message's ack.
    Timed from the first message to the last."""
    (parameters,) = pika_parameters(url, "bench-raw")
    with pika.BlockingConnection(parameters) as connection:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        taken = 0
        started = cpu = 0.0
        for method, _properties, _body in channel.consume(queue, inactivity_timeout=60):
            if method is None:
                break
            if not taken:
                started, cpu = time.perf_counter(), time.process_time()
            channel.basic_ack(method.delivery_tag)
            taken += 1
            if each is not None:
                each(taken)
            if taken == count:
                break
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        channel.cancel()
    if taken < count:
        raise RuntimeError(f"{queue}: {taken} of {count} messages came")
    return Cost(wall / count * 1e6, cpu / count * 1e6)


@dataclass(frozen=True)
class RawLimits:
    parse_validate: Cost  # per record
    publish: Cost  # per message
    consume: Cost  # per message
    build: Cost  # per record
    zeep_build_us: float
    body_bytes: int
    cryptography: Cost  # per record: what the gateway's promises cost in the libraries alone
    mapping: Cost  # per record: the hub's adapter reading SOPA's fields into canonical models
    status_rows: Cost  # per record: the hub's status rows stored on SQLite

    @property
    def publish_per_s(self) -> float:
        return 1e6 / self.publish.wall_us

    @property
    def consume_per_s(self) -> float:
        return 1e6 / self.consume.wall_us

    @property
    def ingest_per_s(self) -> float:
        """Parse + validate + publish, one record after the other on one core."""
        return 1e6 / (self.parse_validate.wall_us + self.publish.wall_us)

    @property
    def delivery_per_s(self) -> float:
        """Consume + build the outbound request, one record after the other on one core."""
        return 1e6 / (self.consume.wall_us + self.build.wall_us)

    @property
    def ingest_cpu_us(self) -> float:
        """CPU per record of parse + validate + publish, a message per record."""
        return self.parse_validate.cpu_us + self.publish.cpu_us

    @property
    def ingest_with_cryptography_cpu_us(self) -> float:
        """The ingest limit's CPU per record with the cryptography the gateway's promises need."""
        return self.ingest_cpu_us + self.cryptography.cpu_us

    @property
    def gateway_floor_cpu_us(self) -> float:
        """What a gateway keeping its promises costs per record at the least: parse + validate, its
        cryptography, the mapping and the status rows; no HTTP, staging or publishing (one per load)."""
        return self.parse_validate.cpu_us + self.cryptography.cpu_us + self.mapping.cpu_us + self.status_rows.cpu_us

    @property
    def delivery_cpu_us(self) -> float:
        """CPU per record of consume + ack + build."""
        return self.consume.cpu_us + self.build.cpu_us


def measure(url: str, prefix: str, records: int, codec: BrokerCodec) -> RawLimits:
    queue = f"{prefix}-raw"
    body = envelope_body(codec)
    count = max(records, 2000)
    published = median_cost([publish(url, queue, body, count) for _ in range(3)])
    consumed = consume(url, queue, count * 3)
    zeep = measure_build(records=min(records, 2000), rounds=3)["zeep"]
    with pika.BlockingConnection(pika_parameters(url, "bench-raw")[0]) as connection:
        connection.channel().queue_delete(queue)
    return RawLimits(
        parse_validate(records),
        published,
        consumed,
        build(min(records, 2000)),
        zeep,
        len(body),
        ingest_cryptography(records, len(body)),
        mapping(records),
        status_rows(records),
    )
