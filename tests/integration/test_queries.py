"""Per-person queries (F5, VSAA) through the broker, on the embedded broker and on RabbitMQ: each
answer goes to its own caller, a deadline is a clear Fault, and every query is audited with the
person pseudonymised."""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
import zeep
from lxml import etree

from adapters.vsaa.dialect import NS, answer_from_xml, query_to_xml
from adapters.vsaa.simulator import person_benefits
from hub.canonical.queries import GrantedBenefitsAnswer, GrantedBenefitsQuery, PaymentsQuery
from hub.contracts.samples import SCHEMAS
from hub.errors import BrokerUnavailable
from hub.simulation.people import person_code
from hub.soap import SOAP11_NS, parse_fault
from hub.store.audit import audit_log
from tests.helpers import TODAY, ask, ep51, metric, wait_for

SAMPLES_DIR = SCHEMAS / "vsaa" / "samples" / "valid"


def expected(code: str) -> GrantedBenefitsAnswer:
    return GrantedBenefitsAnswer(
        benefits=[
            b
            for b in person_benefits(code, TODAY)
            if b.granted_from <= TODAY and (b.granted_to is None or b.granted_to >= TODAY)
        ]
    )


def test_a_query_is_answered_and_audited_without_the_person_code(start_hub, broker_url, vsaa):
    hub = start_hub(broker_url)
    code = person_code(random.Random(1))
    answer = ask(hub, ep51(code))
    assert answer.fault is None, answer.fault
    assert answer.body.tag == f"{{{NS}}}EP51Atbilde"
    assert answer_from_xml(GrantedBenefitsQuery.TYPE, answer.body) == expected(code)
    assert answer.header is not None and answer.header.purpose
    (entry,) = [e for e in hub.audit.entries() if e.action == "query"]
    assert entry.operator == "rsd.soc.darbinieks.014" and entry.reason.startswith("sociālās")
    assert entry.subject == "sopa->vsaa vsaa.ep51.v1" and entry.details["outcome"] == "answered"
    assert entry.details["person"] == hub.pseudonymize(code) != code
    with hub.db.engine.connect() as conn:
        assert code not in str(conn.execute(audit_log.select()).all())
    assert hub.audit.verify().whole


def test_a_query_without_purpose_or_from_a_system_without_the_right_is_refused(start_hub, vsaa):
    hub = start_hub()
    code = person_code(random.Random(2))
    refused = ask(hub, ep51(code), purpose=None)
    assert refused.fault is not None
    assert [(e.field, e.rule) for e in refused.fault.errors] == [("Envelope/Header/MessageHeader/Purpose", "required")]
    gvs = ask(hub, ep51(code), sender="gvs")
    assert gvs.fault is not None and gvs.fault.code == "Client" and gvs.fault.error_class == "unauthorised"
    assert vsaa.calls == 0


def test_fifty_callers_at_once_each_get_their_own_answer(start_hub, broker_url, vsaa):
    vsaa.knobs.latency_ms = 50
    hub = start_hub(broker_url)
    codes = [person_code(random.Random(100 + n)) for n in range(50)]
    start = threading.Barrier(50)

    def one(code: str):  # type: ignore[no-untyped-def]
        start.wait()
        return code, ask(hub, ep51(code))

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, codes))
    for code, answer in results:
        assert answer.fault is None, answer.fault
        assert answer_from_xml(GrantedBenefitsQuery.TYPE, answer.body) == expected(code)
    assert vsaa.calls == 50
    # each answered caller's entry was committed before its answer, in whichever batch it was written
    entries = [e for e in hub.audit.entries(limit=100) if e.action == "query"]
    assert sorted(e.details["person"] for e in entries) == sorted(hub.pseudonymize(code) for code in codes)
    assert hub.audit.verify().whole


def test_a_deadline_passed_is_a_fault_and_the_late_answer_reaches_nobody(start_hub, broker_url, vsaa, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(
        """
[[routes]]
flow = "F1"
types = ["social_assistance.benefit.v1"]
target = "spolis"

[[routes]]
flow = "F5"
types = ["vsaa.ep51.v1", "vsaa.ep52.v1"]
target = "vsaa"
deadline_seconds = 0.5
""",
        encoding="utf-8",
    )
    hub = start_hub(broker_url, routes_file=routes)
    late = metric(hub, "hub_query_late_replies_total", {})
    vsaa.knobs.latency_ms = 1200
    slow_code = person_code(random.Random(3))
    started = time.monotonic()
    timed_out = ask(hub, ep51(slow_code))
    assert time.monotonic() - started < 1.1
    assert timed_out.fault is not None and timed_out.fault.code == "Server" and timed_out.fault.retry
    assert timed_out.fault.error_class == "deadline_exceeded"
    vsaa.knobs.latency_ms = 0
    other = person_code(random.Random(4))
    query = PaymentsQuery(person_code=other, period_from=TODAY - dt.timedelta(days=90), period_to=TODAY)
    answer = ask(hub, query_to_xml(query))
    assert answer.fault is None and answer.body.tag == f"{{{NS}}}EP52Atbilde"
    wait_for(lambda: metric(hub, "hub_query_late_replies_total", {}) == late + 1, timeout=5)
    outcomes = [e.details["outcome"] for e in hub.audit.entries() if e.action == "query"]
    assert sorted(outcomes) == ["answered", "deadline_exceeded"]


def test_vsaa_down_is_a_retry_later_fault(start_hub, vsaa):
    hub = start_hub()
    vsaa.stop()
    answer = ask(hub, ep51(person_code(random.Random(5))))
    assert answer.fault is not None and answer.fault.code == "Server" and answer.fault.retry
    assert answer.fault.error_class in ("target_unavailable", "target_timeout")


@pytest.mark.rabbitmq
def test_a_zeep_client_built_from_the_hubs_wsdl_asks_vsaa(start_hub, amqp_url, vsaa):
    hub = start_hub(amqp_url)
    client = zeep.Client(f"{hub.gateway_url}/soap/lietis?wsdl")
    header = client.get_element("{urn:lv:welfare-hub:viss-header:v1}MessageHeader")(
        MessageID=str(uuid.uuid4()),
        MessageType=f"{NS}#EP51Pieprasijums",
        Sender="lietis",
        Destination="vsaa",
        UserId="dslp.inspektors.07",
        Purpose="trūcīgas personas statusa izvērtēšana",
    )
    code = person_code(random.Random(6))
    result = client.service.EP51(_soapheaders=[header], PersonasKods=code, UzDatumu=TODAY)
    body = result.body if hasattr(result, "body") else result
    got = [(m.Veids, m.MenesaSummaEUR) for m in (body.PieskirtsMaksajums if body else [])]
    want = [(b.benefit, b.monthly_amount) for b in expected(code).benefits]
    assert [k for k, _ in want] == [
        {
            "VECUMA_PENSIJA": "old_age_pension",
            "INVALIDITATES_PENSIJA": "disability_pension",
            "APGADNIEKA_ZAUDEJUMA_PENSIJA": "survivor_pension",
            "BEZDARBNIEKA_PABALSTS": "unemployment_benefit",
            "VSNP": "state_social_security_benefit",
        }[k]
        for k, _ in got
    ]
    assert [a for _, a in got] == [a for _, a in want]


def test_a_query_without_an_end_user_is_refused(start_hub, vsaa):
    hub = start_hub()
    sample = (SAMPLES_DIR / "ep51-from-lietis.xml").read_bytes()
    without_user = re.sub(rb"\s*<vh:UserId>[^<]*</vh:UserId>", b"", sample)
    response = httpx.post(
        f"{hub.gateway_url}/soap/lietis", content=without_user, headers={"Content-Type": "text/xml"}, timeout=30
    )
    fault = parse_fault(etree.fromstring(response.content).find(f"{{{SOAP11_NS}}}Body")[0])
    assert ("Envelope/Header/MessageHeader/UserId", "required") in {(e.field, e.rule) for e in fault.errors}
    assert vsaa.calls == 0


def test_a_query_the_broker_refuses_or_never_takes_fails_at_once_and_is_audited(start_hub, vsaa, monkeypatch):
    """The broker's confirm is off the caller's path, but a refusal still reaches the caller at once,
    and a query the broker never confirms fails after the publish timeout, not the deadline."""
    hub = start_hub(publish_timeout_seconds=0.3)

    def refused(messages):  # type: ignore[no-untyped-def]
        future: Future[None] = Future()
        threading.Timer(0.05, future.set_exception, [BrokerUnavailable("the broker connection is down")]).start()
        return future

    monkeypatch.setattr(hub.publisher, "publish", refused)
    started = time.monotonic()
    answer = ask(hub, ep51(person_code(random.Random(6))))
    assert time.monotonic() - started < 1.0  # the deadline is seconds away
    assert answer.fault is not None and answer.fault.retry and answer.fault.error_class == "broker_unavailable"
    monkeypatch.setattr(hub.publisher, "publish", lambda messages: Future())
    started = time.monotonic()
    answer = ask(hub, ep51(person_code(random.Random(7))))
    assert 0.3 <= time.monotonic() - started < 1.5
    assert answer.fault is not None and answer.fault.error_class == "broker_unavailable"
    outcomes = [e.details["outcome"] for e in hub.audit.entries() if e.action == "query"]
    assert outcomes == ["broker_unavailable", "broker_unavailable"] and vsaa.calls == 0
