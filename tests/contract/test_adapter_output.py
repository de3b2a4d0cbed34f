"""What the hub sends SPOLIS is valid against SPOLIS's own XSD, for every source and record kind,
and it carries exactly what the source said."""

from __future__ import annotations

import pytest
from lxml import etree

from adapters.spolis.outbound import NS, from_envelope, submission
from hub.settings import PROJECT_ROOT
from hub.systems import discover
from hub.xml.schema import Schema
from tests.contract.samples import valid_samples

SPOLIS = Schema(PROJECT_ROOT / "schemas" / "spolis" / "spolis-v1.xsd")


@pytest.mark.parametrize("sample", [s for s in valid_samples() if "status" not in s.path.name], ids=lambda s: s.id)
def test_spolis_requests_built_from_every_sample_are_valid(sample, ingest):
    envelopes = ingest.prepare(sample.system, sample.path.read_bytes()).envelopes
    request = submission([from_envelope(e) for e in envelopes])
    assert SPOLIS.errors(request) == []
    items = request.findall(f"{{{NS}}}Ieraksts")
    assert [i.findtext(f"{{{NS}}}ZinojumaId") for i in items] == [str(e.message_id) for e in envelopes]
    assert {i.findtext(f"{{{NS}}}AvotaSistema") for i in items} == {sample.system}
    for item, envelope in zip(items, envelopes, strict=True):
        assert item.findtext(f"{{{NS}}}PersonasKods") == envelope.payload["person_code"]
        amount = item.find(f".//{{{NS}}}SummaEUR")
        if amount is not None:
            assert amount.text == envelope.payload["amount"]


def test_a_record_spolis_would_refuse_is_caught_before_sending():
    item = etree.fromstring(
        b'<sp:Ieraksts xmlns:sp="urn:lv:lm:spolis:ielade:v1"><sp:ZinojumaId>not-a-uuid</sp:ZinojumaId></sp:Ieraksts>'
    )
    assert {e.rule for e in SPOLIS.errors(item)} >= {"pattern"}


def test_every_target_adapter_has_its_schema():
    for name, system in discover().items():
        if system.target is not None:
            assert (PROJECT_ROOT / "schemas" / name / system.xsd).is_file()
