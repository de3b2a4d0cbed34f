"""Flows F2, F3, F4, F6, F7, F8 end to end, on the embedded broker and on RabbitMQ, with every
system's simulator over real HTTP SOAP: what reached each target is what was sent."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from lxml import etree

from adapters.burvis.dialect import duties_to_xml, profiles_to_xml
from adapters.burvis.simulator import profilings
from adapters.spolis.outbound import NS as SP
from adapters.spolis.services import assistance_to_xml, report_to_xml
from adapters.vdeavk.dialect import answer_from_xml, opinions_to_xml, query_to_xml
from adapters.vdeavk.simulator import disability_of, opinions
from hub.canonical import Municipality
from hub.canonical.queries import DisabilityQuery
from hub.simulation.client import HubClient
from hub.simulation.people import person_code
from hub.simulation.records import RecordFactory
from tests.helpers import wait_for

RIGA = Municipality(atvk="0001000", name="Rīgas valstspilsētas pašvaldība")
DAUGAVPILS = Municipality(atvk="0002000", name="Daugavpils valstspilsētas pašvaldība")
KANDAVA = Municipality(atvk="0051000", name="Tukuma novada pašvaldība")


def factory(place: Municipality = RIGA, seed: int = 1) -> RecordFactory:
    return RecordFactory(municipality=place, record_prefix="T", decision_prefix="T", rng=random.Random(seed))


def submit(hub, sender: str, body, destination: str, records: int):  # type: ignore[no-untyped-def]
    client = HubClient(hub.gateway_url, sender=sender, retries=0)
    try:
        return client.submit(body, destination=destination, user_id=f"{sender}.user", records=records)
    finally:
        client.close()


def stored(store, kind: str) -> list[etree._Element]:  # type: ignore[no-untyped-def]
    rows = store._db.execute("SELECT xml FROM records WHERE kind = ?", (kind,)).fetchall()
    return [etree.fromstring(row[0]) for row in rows]


def test_f2_assistant_service_reaches_spolis_with_the_funding_at_the_rate_in_force(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    f = factory()
    services = [f.assistant_service() for _ in range(5)]
    march_2023 = services[0].model_copy(
        update={
            "record_id": "T-ASI-MARCH-2023",
            "period_from": dt.date(2023, 3, 1),
            "period_to": dt.date(2023, 3, 31),
            "hourly_rate": Decimal("5.02"),
            "state_funding": (services[0].hours * Decimal("5.02")).quantize(Decimal("0.01")),
        }
    )
    receipt = submit(hub, "sopa", assistance_to_xml([*services, march_2023], RIGA), "spolis", 6)
    assert receipt.accepted, receipt.fault
    wait_for(lambda: len(stored(spolis.store, "assistant_service")) == 6)
    by_id = {e.findtext(f"{{{SP}}}AvotaIerakstaId"): e for e in stored(spolis.store, "assistant_service")}
    for record in [*services, march_2023]:
        item = by_id[record.record_id].find(f"{{{SP}}}AsistentaPakalpojums")
        rate = Decimal(item.findtext(f"{{{SP}}}StundasLikmeEUR"))
        assert rate == (Decimal("5.02") if record.period_from < dt.date(2023, 4, 1) else Decimal("5.37"))
        hours = Decimal(item.findtext(f"{{{SP}}}Stundas"))
        assert Decimal(item.findtext(f"{{{SP}}}ValstsFinansejumsEUR")) == (hours * rate).quantize(Decimal("0.01"))

    too_early = services[1].model_copy(update={"period_from": dt.date(2022, 5, 1), "period_to": dt.date(2022, 5, 31)})
    refused = submit(hub, "lietis", assistance_to_xml([too_early], DAUGAVPILS), "spolis", 1)
    assert [(e.field, e.rule) for e in refused.fault.errors] == [
        ("AsistentaPakalpojumuPakete/Pakalpojums/Periods/@no", "rate-unknown")
    ]


def test_f3_vdeavk_opinions_reach_spolis(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    batch = opinions(20, random.Random(3), dt.date.today())
    assert submit(hub, "vdeavk", opinions_to_xml(batch), "spolis", 20).accepted
    wait_for(lambda: len(stored(spolis.store, "assistant_opinion")) == 20)
    got = {e.findtext(f"{{{SP}}}PersonasKods") for e in stored(spolis.store, "assistant_opinion")}
    assert got == {o.person_code for o in batch}


def test_f4_spolis_and_sopa_ask_vdeavk(start_hub, broker_url, vdeavk):
    hub = start_hub(broker_url)
    for sender in ("spolis", "sopa"):
        code = person_code(random.Random(sender))
        client = HubClient(hub.gateway_url, sender=sender, retries=0)
        answer = client.call(
            query_to_xml(DisabilityQuery(person_code=code)),
            destination="vdeavk",
            user_id=f"{sender}.analitikis",
            purpose="asistenta pakalpojuma piešķiršana",
        )
        client.close()
        assert answer.fault is None, answer.fault
        assert answer_from_xml(answer.body) == disability_of(code, dt.date.today())
    assert vdeavk.calls == 2


def test_f6_profiling_goes_to_the_municipality_where_the_person_lives(start_hub, broker_url, sopa, lietis):
    hub = start_hub(broker_url)
    batch = profilings(30, random.Random(4), dt.date.today())
    assert submit(hub, "burvis", profiles_to_xml(batch), "hub", 30).accepted
    riga = {p.person_code for p in batch if p.municipality.atvk == RIGA.atvk}
    daugavpils = {p.person_code for p in batch if p.municipality.atvk == DAUGAVPILS.atvk}
    assert riga and daugavpils
    wait_for(lambda: len(sopa.store.message_ids()) == len(riga) and len(lietis.store.message_ids()) == len(daugavpils))
    assert {
        e.findtext("{urn:lv:riga:sopa:nva:v1}PersonasKods") for e in stored(sopa.store, "employment_profiling")
    } == riga
    assert {e.get("personCode") for e in stored(lietis.store, "employment_profiling")} == daugavpils

    elsewhere = batch[0].model_copy(update={"municipality": KANDAVA})
    refused = submit(hub, "burvis", profiles_to_xml([elsewhere]), "hub", 1)
    assert refused.fault.code == "Client" and "0051000" in refused.fault.string


def test_f7_cooperation_duties_reach_burvis(start_hub, broker_url, burvis):
    hub = start_hub(broker_url)
    f = factory(DAUGAVPILS, seed=5)
    duties = [f.cooperation_duties() for _ in range(12)]
    assert submit(hub, "lietis", duties_to_xml(duties, DAUGAVPILS), "burvis", 12).accepted
    wait_for(lambda: len(burvis.store.message_ids()) == 12)
    codes = {
        e.findtext("{urn:lv:nva:burvis:v1}Klients/{urn:lv:nva:burvis:v1}PersonasKods")
        for e in stored(burvis.store, "cooperation_duties")
    }
    assert codes == {d.person_code for d in duties}


def test_f8_monthly_report_its_correction_and_its_consistency(start_hub, broker_url, spolis):
    hub = start_hub(broker_url)
    f = factory(KANDAVA, seed=6)
    first = f.monthly_report(2026, 9)
    receipt = submit(hub, "gvs", report_to_xml([first], KANDAVA), "spolis", 1)
    assert receipt.accepted and not receipt.notices
    later = f.monthly_report(2026, 9).model_copy(update={"decided_at": first.decided_at + dt.timedelta(days=3)})
    correction = submit(hub, "gvs", report_to_xml([later], KANDAVA), "spolis", 1)
    assert correction.accepted
    assert "correction 1 (revision 2)" in correction.notices[0]
    wait_for(lambda: len(stored(spolis.store, "monthly_report")) == 2)
    versions = sorted(e.find(f"{{{SP}}}MenesaParskats").get("versija") for e in stored(spolis.store, "monthly_report"))
    assert versions == ["1", "2"]
    assert spolis.store.current("gvs", first.record_id) == correction.message_ids[0]

    wrong = report_to_xml([first], KANDAVA)
    wrong.find(f"{{{SP}}}PabalstiKopaEUR").text = "1.00"
    refused = submit(hub, "gvs", wrong, "spolis", 1)
    assert [(e.field, e.rule) for e in refused.fault.errors] == [
        ("MenesaParskatsIesniegums/PabalstiKopaEUR", "total-equals-sum")
    ]
