"""Hostile requests get a clear Fault or HTTP error, quickly, without the hub reaching out anywhere,
leaking a file or a stack trace, or queuing anything; the hub keeps serving. A property-based test
throws random and mutated documents at the parser and the whole gateway pipeline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import HubError, ValidationFailed
from hub.gateway.reader import RequestContext
from hub.settings import PROJECT_ROOT
from hub.xml.parser import HardenedParser
from tests.hub.hostile import Hostile, corpus
from tests.hub.test_gateway import post, sample, wait_for
from tests.hub.test_worker import factory, submit

SAMPLES = sorted((PROJECT_ROOT / "schemas").glob("*/samples/valid/*.xml"))
BOUND_SECONDS = 10.0  # a refusal must come this fast, on any machine: a bound, not a benchmark


class Listener:
    """A TCP port that records whether anybody connected: the hub must never fetch what it parses."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    watching = Listener()
    yield watching
    watching.close()


def send(url: str, hostile: Hostile) -> httpx.Response:
    content = iter([hostile.body[i : i + 65536] for i in range(0, len(hostile.body), 65536)])
    return httpx.post(
        f"{url}/soap/sopa",
        content=content if hostile.chunked else hostile.body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=60,
    )


def check_refusal(url: str, hostile: Hostile, *, signatures: bool = False) -> None:
    """With `signatures` required, what passes the parser is refused for its missing signature first."""
    rule = hostile.rule if hostile.before_signature or not signatures else "signature-required"
    started = time.monotonic()
    response = send(url, hostile)
    elapsed = time.monotonic() - started
    assert response.status_code == hostile.status, response.text[:500]
    assert elapsed < BOUND_SECONDS, f"{hostile.name} took {elapsed:.1f} s"
    text = response.text
    assert "root:" not in text and "Traceback" not in text and "internal error" not in text
    assert len(text) < 20_000, "the answer must not echo the attack back"
    if rule:
        assert f"<hub:Rule>{rule}</hub:Rule>" in text, text[:1000]
        assert "<faultcode>soap:Client</faultcode>" in text or "soap:VersionMismatch" in text


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=mutations(), sender=st.sampled_from(("sopa", "lietis", "gvs", "burvis", "vdeavk", "spolis")))
def test_mutated_samples_are_answered_with_a_rule_never_an_internal_error(reader, document, sender):
    try:
        reader.read(RequestContext(sender), document)
    except HubError as exc:
        assert exc.error_class != "internal", exc
        if isinstance(exc, ValidationFailed):
            assert all(e.field and e.rule and e.message for e in exc.errors)
