"""Hostile requests get a clear Fault or HTTP error, quickly, without the hub reaching out anywhere,
leaking a file or a stack trace, or queuing anything; the hub keeps serving. A property-based test
throws random and mutated documents at the parser and the whole gateway pipeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import HubError, ValidationFailed
from hub.gateway.reader import RequestContext
from hub.settings import PROJECT_ROOT
from hub.xml.parser import HardenedParser
from tests.helpers import Listener, check_refusal, examples, factory, post, sample, submit, wait_for
from tests.helpers.hostile import corpus

SAMPLES = sorted((PROJECT_ROOT / "schemas").glob("*/samples/valid/*.xml"))


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    watching = Listener()
    yield watching
    watching.close()


def test_every_hostile_request_is_refused_clearly_and_the_hub_keeps_serving(start_hub, spolis, listener):
    hub = start_hub()
    for hostile in corpus(listener.url):
        check_refusal(hub.gateway_url, hostile)
    assert listener.connections == 0, "the hub fetched something a request named"
    assert hub.store.counts() == {}
    ids = submit(hub, factory(61).batch(2))
    wait_for(lambda: spolis.store.stats()["records"] == 2)
    assert sorted(spolis.store.message_ids()) == sorted(ids.values())
    assert post(hub, "sopa", sample("sopa", "benefits")).status_code == 200


INJECTED = [
    "<script>alert('x')</script>",
    "'; DROP TABLE message_status; --",
    "Robert'); DELETE FROM receipts WHERE ('1'='1",
    "${jndi:ldap://127.0.0.1:1/a}",
    "=cmd|' /C calc'!A0",
    "‮ tekstā apgriezts ‭ & ķēdes ]]> <![CDATA[",
]


@pytest.mark.parametrize("text", INJECTED)
def test_injection_in_a_free_text_field_reaches_spolis_as_plain_text(start_hub, spolis, text):
    hub = start_hub()
    benefit = factory(62).benefit().model_copy(update={"benefit_kind": "municipal_other", "benefit_name": text})
    (message_id,) = submit(hub, [benefit]).values()
    wait_for(lambda: spolis.store.stats()["records"] == 1)
    stored = spolis.store._db.execute("SELECT xml FROM records WHERE message_id = ?", (message_id,)).fetchone()[0]
    names = [e.text for e in etree.fromstring(stored).iter() if e.text == text]
    assert names == [text], "the text must arrive as it was sent, as text"
    # SPOLIS stores the record before it answers; the hub marks it delivered once the answer is in.
    wait_for(lambda: hub.store.message_status(message_id).records[0].status == "delivered")
    assert hub.store.counts() == {"delivered": 1}  # the hub's own tables are all there


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_the_parser_refuses_random_bytes_with_a_rule_or_parses_them(data):
    parser = HardenedParser(max_bytes=8192, max_depth=32)
    try:
        parser.parse(data)
    except ValidationFailed as exc:
        assert exc.errors and all(e.rule for e in exc.errors)


def mutations() -> st.SearchStrategy[bytes]:
    """A valid sample with a slice replaced, deleted or repeated: near-valid input, where bugs hide."""

    @st.composite
    def mutate(draw) -> bytes:  # type: ignore[no-untyped-def]
        original = draw(st.sampled_from(SAMPLES)).read_bytes()
        start = draw(st.integers(0, len(original)))
        end = draw(st.integers(start, min(len(original), start + 64)))
        action = draw(st.sampled_from(("replace", "delete", "repeat")))
        if action == "delete":
            return original[:start] + original[end:]
        if action == "repeat":
            return original[:end] + original[start:end] * draw(st.integers(2, 5)) + original[end:]
        return original[:start] + draw(st.binary(max_size=32)) + original[end:]

    return mutate()


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=mutations(), sender=st.sampled_from(("sopa", "lietis", "gvs", "burvis", "vdeavk", "spolis")))
def test_mutated_samples_are_answered_with_a_rule_never_an_internal_error(reader, document, sender):
    try:
        reader.read(RequestContext(sender), document)
    except HubError as exc:
        assert exc.error_class != "internal", exc
        if isinstance(exc, ValidationFailed):
            assert all(e.field and e.rule and e.message for e in exc.errors)
