"""What building SPOLIS's request costs per record: lxml (what the hub does) against zeep.

Both build the same `IesniegtIerakstus` for the same canonical records, envelope and header
included, and serialise it; the lxml path also validates each record against SPOLIS's XSD.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable

import zeep
from lxml import etree

from adapters.spolis.outbound import from_envelope, submission
from hub.canonical import Municipality
from hub.envelope import Envelope
from hub.settings import PROJECT_ROOT
from hub.simulation.records import RecordFactory
from hub.soap import MessageHeader, build_envelope
from hub.xml.schema import Schema

SPOLIS = PROJECT_ROOT / "schemas" / "spolis"


def envelopes(count: int) -> list[Envelope]:
    place = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
    factory = RecordFactory(municipality=place, record_prefix="B", decision_prefix="B", rng=random.Random(1))
    receipt = uuid.uuid4()
    return [
        Envelope.of(r, source="sopa", target="spolis", user_id="bench", correlation_id=receipt)
        for r in factory.batch(count)
    ]


def _header(body: etree._Element) -> MessageHeader:
    return MessageHeader(
        message_id=uuid.uuid4(),
        message_type=MessageHeader.message_type_of(body),
        sender="hub",
        destination="spolis",
        user_id="welfare-hub",
    )


def lxml_builder() -> Callable[[list[Envelope]], bytes]:
    schema = Schema(SPOLIS / "spolis-v1.xsd")

    def build(batch: list[Envelope]) -> bytes:
        items = [from_envelope(e) for e in batch]
        for item in items:
            assert schema.is_valid(item)
        request = submission(items)
        return build_envelope(request, _header(request))

    return build


def zeep_builder() -> Callable[[list[Envelope]], bytes]:
    client = zeep.Client(str(SPOLIS / "spolis-service-v1.wsdl"))
    request_type = client.get_element("{urn:lv:lm:spolis:ielade:v1}IesniegtIerakstus")
    header_type = client.get_element("{urn:lv:welfare-hub:viss-header:v1}MessageHeader")

    def build(batch: list[Envelope]) -> bytes:
        # zeep needs its own objects: parse what lxml built into them, outside the timing.
        values = request_type.parse(submission([from_envelope(e) for e in batch]), client.wsdl.types)
        header = header_type(
            MessageID=str(uuid.uuid4()),
            MessageType="urn:lv:lm:spolis:ielade:v1#IesniegtIerakstus",
            Sender="hub",
            Destination="spolis",
            UserId="welfare-hub",
        )
        started = time.perf_counter()
        message = client.create_message(
            client.service, "IesniegtIerakstus", _soapheaders=[header], Ieraksts=values.Ieraksts
        )
        data = etree.tostring(message, xml_declaration=True, encoding="UTF-8")
        build.elapsed += time.perf_counter() - started  # type: ignore[attr-defined]
        return data

    build.elapsed = 0.0  # type: ignore[attr-defined]
    return build


def measure(records: int = 1000, batch: int = 100, rounds: int = 3) -> dict[str, float]:
    """Median microseconds per record for each builder."""
    data = envelopes(records)
    batches = [data[i : i + batch] for i in range(0, len(data), batch)]
    results: dict[str, list[float]] = {"lxml": [], "zeep": []}
    for _ in range(rounds):
        build = lxml_builder()
        started = time.perf_counter()
        for b in batches:
            build(b)
        results["lxml"].append((time.perf_counter() - started) / records * 1e6)
        zbuild = zeep_builder()
        for b in batches:
            zbuild(b)
        results["zeep"].append(zbuild.elapsed / records * 1e6)  # type: ignore[attr-defined]
    return {name: statistics.median(values) for name, values in results.items()}
