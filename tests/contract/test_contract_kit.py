"""The partner integrators' kit: every sample through `hub contract check`, examples from
`hub contract sample`, and a hand-written partner message with several mistakes."""

from __future__ import annotations

import pytest

from hub.cli import main
from hub.contracts.samples import invalid_samples, valid_samples

PARTNER_MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header>
    <vh:MessageHeader xmlns:vh="urn:lv:welfare-hub:viss-header:v1">
      <vh:MessageID>7d0c2a55-1f5e-4c1b-9a55-0c2b6d7e8f90</vh:MessageID>
      <vh:MessageType>urn:lv:daugavpils:lietis:exchange:v1#DataLoad</vh:MessageType>
      <vh:Sender>lietis</vh:Sender>
      <vh:Destination>spolis</vh:Destination>
      <vh:UserId>dslp.inspektors.07</vh:UserId>
    </vh:MessageHeader>
  </soap:Header>
  <soap:Body>
    <lt:DataLoad xmlns:lt="urn:lv:daugavpils:lietis:exchange:v1" loadId="L-1"
                 municipalityCode="0002000" municipalityName="Daugavpils valstspilsētas pašvaldība">
      <lt:Benefit recordId="B-1" kind="gmi">
        <lt:Client personCode="010170-1234"/>
        <lt:Decision number="DSLP-1" date="2026-10-01" takenAt="2026-10-01T09:00:00+03:00"/>
        <lt:Period from="2026-10-01" to="2026-10-31"/>
        <lt:Amount currency="EUR">125.5</lt:Amount>
      </lt:Benefit>
      <lt:Benefit recordId="B-2" kind="pension">
        <lt:Client personCode="010170-12345"/>
        <lt:Decision number="DSLP-2" date="2026-10-01" takenAt="2026-10-01T09:00:00"/>
        <lt:Period from="2026-10-01" to="2026-10-31"/>
        <lt:Amount currency="USD">-3</lt:Amount>
      </lt:Benefit>
    </lt:DataLoad>
  </soap:Body>
</soap:Envelope>
"""


@pytest.mark.parametrize("sample", valid_samples(), ids=lambda s: s.id)
def test_every_valid_sample_passes_the_kit(sample, capsys):
    assert main(["contract", "check", sample.system, str(sample.path)]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize("sample", invalid_samples(), ids=lambda s: s.id)
def test_every_invalid_sample_is_refused_by_the_kit_with_its_rule(sample, capsys):
    assert main(["contract", "check", sample.system, str(sample.path)]) == 1
    out = capsys.readouterr().out
    assert sample.rule in out or sample.layer == "route" and "unroutable" in out


def test_a_hand_written_partner_message_gets_every_mistake_with_line_and_rule(tmp_path, capsys):
    message = tmp_path / "partner.xml"
    message.write_text(PARTNER_MESSAGE, encoding="utf-8")
    assert main(["contract", "check", "lietis", str(message)]) == 1
    out = capsys.readouterr().out
    for expected in (
        "line 16: DataLoad/Benefit[1]/Client/@personCode: pattern",
        "DataLoad/Benefit[2]/@kind: enumeration",
        "DataLoad/Benefit[2]/Decision/@takenAt: pattern",
        "DataLoad/Benefit[2]/Amount: minInclusive",
        "DataLoad/Benefit[2]/Amount/@currency: enumeration",
    ):
        assert expected in out, out


def test_the_kit_gives_examples(capsys):
    assert main(["contract", "sample", "lietis", "list"]) == 0
    listing = capsys.readouterr().out
    assert "EP51Pieprasijums" in listing and "DataLoad" in listing and "LidzdarbibasPienakumi" in listing
    assert main(["contract", "sample", "sopa", "EP50Pieprasijums"]) == 0
    assert "<vsaa:EP50Pieprasijums" in capsys.readouterr().out
    assert main(["contract", "sample", "sopa", "nothing-like-this"]) == 2


def test_the_committed_wsdls_are_current():
    assert main(["contract", "wsdl", "--check"]) == 0
