"""F1 end to end on the real RabbitMQ: partners' SOAP clients built by zeep from the hub's own WSDLs
submit data loads; SPOLIS's store ends with exactly the records the receipts promised."""

from __future__ import annotations

import random
import uuid

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault as ZeepFault

from hub.canonical import Municipality
from hub.simulation.people import with_wrong_check_digit
from hub.simulation.records import RecordFactory
from hub.systems import discover
from tests.helpers import wait_for

pytestmark = pytest.mark.rabbitmq

SOURCES = {
    "sopa": ("{urn:lv:riga:sopa:spolis:v1}DatuPakete", "IesniegtDatuPaketi"),
    "lietis": ("{urn:lv:daugavpils:lietis:exchange:v1}DataLoad", "SubmitDataLoad"),
    "gvs": ("{urn:lv:lm:gvs:eksports:v1}Eksports", "IesniegtEksportu"),
}
PLACE = Municipality(atvk="0002000", name="Daugavpils valstspilsētas pašvaldība")


class Partner:
    """A partner system's integrator: a zeep client built from the WSDL the hub serves."""

    def __init__(self, gateway_url: str, system: str) -> None:
        self.system = system
        self.client = zeep.Client(f"{gateway_url}/soap/{system}?wsdl")
        self.element_name, self.operation = SOURCES[system]

    def header(self, message_type: str):
        make = self.client.get_element("{urn:lv:welfare-hub:viss-header:v1}MessageHeader")
        return make(
            MessageID=str(uuid.uuid4()),
            MessageType=message_type,
            Sender=self.system,
            Destination="spolis",
            UserId=f"{self.system}.integrators.test",
        )

    def submit(self, body: etree._Element):
        value = self.client.get_element(self.element_name).parse(body, self.client.wsdl.types)
        message_type = "{}#{}".format(*self.element_name[1:].split("}"))
        call = getattr(self.client.service, self.operation)
        return call(_soapheaders=[self.header(message_type)], **{key: value[key] for key in value})

    def status(self, receipt_id: str):
        return self.client.service.GetStatus(
            _soapheaders=[self.header("urn:lv:welfare-hub:v1#GetStatus")], ReceiptID=receipt_id
        )


def loads(system: str, batches: int, size: int, seed: int) -> list[etree._Element]:
    build = discover()[system].simulator.build
    factory = RecordFactory(
        municipality=PLACE, record_prefix=system.upper(), decision_prefix="T", rng=random.Random(seed)
    )
    return [build(factory.batch(size), PLACE, f"LOAD-{seed}-{n}") for n in range(batches)]


def test_every_zeep_submitted_record_reaches_spolis_exactly_once(start_hub, amqp_url, spolis):
    hub = start_hub(amqp_url)
    promised: list[str] = []
    receipts: dict[str, str] = {}
    for seed, system in enumerate(SOURCES):
        partner = Partner(hub.gateway_url, system)
        for body in loads(system, batches=3, size=100, seed=seed):
            answer = partner.submit(body)
            receipt = answer.body if hasattr(answer, "body") else answer
            assert receipt.RecordCount == 100
            promised += [record.messageId for record in receipt.Record]
            receipts[receipt.ReceiptID] = system
    assert len(set(promised)) == 900

    wait_for(lambda: spolis.store.stats()["records"] >= 900, timeout=60)
    assert sorted(spolis.store.message_ids()) == sorted(promised)
    assert spolis.store.stats()["duplicates"] == 0

    receipt_id, system = next(iter(receipts.items()))
    partner = Partner(hub.gateway_url, system)

    def delivered() -> tuple[int, int, int] | None:
        status = partner.status(receipt_id)
        status = status.body if hasattr(status, "body") else status
        return (status.Accepted, status.Delivered, status.Failed) if status.Delivered == 100 else None

    assert wait_for(delivered, timeout=30) == (0, 100, 0)


@pytest.mark.parametrize("system", SOURCES)
def test_an_invalid_record_fails_the_whole_load_with_a_fault_naming_it(start_hub, amqp_url, spolis, system):
    hub = start_hub(amqp_url)
    body = loads(system, batches=1, size=20, seed=9)[0]
    victim = next(
        e for e in body.iter() if e.get("personCode") or e.get("pk") or etree.QName(e).localname == "PersonasKods"
    )
    attribute = "personCode" if victim.get("personCode") else "pk" if victim.get("pk") else None
    if attribute:
        victim.set(attribute, with_wrong_check_digit(victim.get(attribute)))
    else:
        victim.text = with_wrong_check_digit(victim.text)
    with pytest.raises(ZeepFault) as caught:
        Partner(hub.gateway_url, system).submit(body)
    detail = caught.value.detail
    rules = [e.findtext("{urn:lv:welfare-hub:v1}Rule") for e in detail.iter("{urn:lv:welfare-hub:v1}Error")]
    fields = [e.findtext("{urn:lv:welfare-hub:v1}Field") for e in detail.iter("{urn:lv:welfare-hub:v1}Error")]
    assert rules == ["person-code-checksum"]
    assert fields[0].endswith("PersonasKods") or fields[0].endswith("@personCode") or fields[0].endswith("@pk")
    assert hub.store.counts() == {}, "refused whole: nothing kept, so nothing was published"
    assert spolis.store.stats()["records"] == 0
