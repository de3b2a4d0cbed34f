"""What the hub sends each target is valid against that target's own XSD, for every sample of every
sender, and carries exactly what the sender said. (Queries are checked by the simulators, which
validate every request they get against the owner's XSD.)"""

from __future__ import annotations

import pytest
from lxml import etree

from hub.contracts.samples import valid_samples
from hub.envelope import Envelope
from hub.gateway.reader import Load, RequestContext
from hub.settings import PROJECT_ROOT
from hub.soap.batch import BatchTarget
from hub.systems import TargetSettings, discover
from hub.xml.schema import Schema

SYSTEMS = discover()
SETTINGS = TargetSettings("http://127.0.0.1:9/unused", 1.0, PROJECT_ROOT / "schemas")
SUBMISSIONS = [
    s
    for s in valid_samples()
    if "status" not in s.path.stem and "query" not in s.path.stem and "-ep5" not in f"-{s.path.stem}"
]


@pytest.mark.parametrize("sample", SUBMISSIONS, ids=lambda s: s.id)
def test_every_record_becomes_a_valid_request_for_its_target(sample, reader):
    read = reader.read(RequestContext(sample.system), sample.path.read_bytes())
    assert isinstance(read, Load)
    for target_name in sorted({e["target"] for e in read.envelopes}):
        target = SYSTEMS[target_name].delivery_target(SETTINGS)
        assert isinstance(target, BatchTarget)
        envelopes = [Envelope.from_fields(e) for e in read.envelopes if e["target"] == target_name]
        items = [target.dialect.item(e) for e in envelopes]
        request = target.dialect.request(items)
        assert target.schema.errors(request) == [], target_name
        text = etree.tostring(request).decode()
        for envelope in envelopes:
            assert str(envelope.message_id) in text, "the idempotency key travels with each record"
            if "person_code" in envelope.payload:
                assert envelope.payload["person_code"] in text
        target.close()


def test_a_record_spolis_would_refuse_is_caught_before_sending():
    spolis = Schema(PROJECT_ROOT / "schemas" / "spolis" / "spolis-v1.xsd")
    item = etree.fromstring(
        b'<sp:Ieraksts xmlns:sp="urn:lv:lm:spolis:ielade:v1"><sp:ZinojumaId>not-a-uuid</sp:ZinojumaId></sp:Ieraksts>'
    )
    assert {e.rule for e in spolis.errors(item)} >= {"pattern"}


def test_every_target_adapter_has_its_schema():
    for name, system in SYSTEMS.items():
        if system.delivery_target is not None or system.query_target is not None:
            assert (PROJECT_ROOT / "schemas" / name / system.xsd).is_file()
