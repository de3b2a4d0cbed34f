"""Log lines are JSON, carry the ids of the message being handled, and never a person code."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random

from hub.logs import JsonFormatter, TextFormatter, handling
from hub.pseudonym import Pseudonymizer, mask
from hub.simulation.people import person_code
from tests.helpers import factory, submit, wait_for


def record(msg: str, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("hub.test", logging.WARNING, __file__, 1, msg, None, None)
    entry.__dict__.update(extra)
    return entry


def test_lines_carry_the_message_and_correlation_id():
    with handling("m-1", "c-1"):
        line = json.loads(JsonFormatter().format(record("delivered", target="spolis")))
    assert (line["message_id"], line["correlation_id"], line["target"]) == ("m-1", "c-1", "spolis")
    assert "message_id" not in json.loads(JsonFormatter().format(record("idle")))
    with handling(["m-1", "m-2", "m-1"], ["c-1"]):
        batch = json.loads(JsonFormatter().format(record("retried")))
        one = json.loads(JsonFormatter().format(record("failed", message_id="m-2")))
    assert (batch["message_ids"], batch["correlation_id"]) == (["m-1", "m-2"], "c-1")
    assert (one["message_id"], one["correlation_id"]) == ("m-2", "c-1") and "message_ids" not in one


def test_person_codes_become_pseudonyms_wherever_they_hide():
    code = person_code(random.Random(1))
    pseudonymize = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    try:
        raise ValueError(f"bad input {code}")
    except ValueError:
        import sys

        entry = record(f"about {code}", detail={"person": code.replace("-", "")}, exc_info=sys.exc_info())
    line = JsonFormatter(pseudonymize.scrub).format(entry)
    assert code not in line and code.replace("-", "") not in line
    assert pseudonymize(code) in line
    assert code not in TextFormatter().format(record(f"about {code}"))


def test_a_pseudonym_is_not_scrubbed_again_when_its_hex_holds_eleven_digits():
    pseudonymize = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    pseudonym = "p-a07321444776da1b207d"  # "07321444776" is shaped like a person code
    assert pseudonymize.scrub(f"person {pseudonym}; {pseudonym}") == f"person {pseudonym}; {pseudonym}"
    code = person_code(random.Random(2))
    assert pseudonymize.scrub(f"{pseudonym} {code}") == f"{pseudonym} {pseudonymize(code)}"
    assert pseudonymize.scrub("xp-a07321444776da1b207d") != "xp-a07321444776da1b207d"  # not a pseudonym


def test_message_ids_and_digests_are_kept_whole_when_their_hex_holds_eleven_digits():
    """One message id in a few hundred has a person code's shape in its last group; scrubbing it made
    a log line name a message that does not exist."""
    pseudonymize = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    code = person_code(random.Random(3))
    for identifier in (
        "67c37501-8f4b-805b-af69-22000948391f",
        "67C37501-8F4B-805B-AF69-22000948391F",
        hashlib.sha256(b"load").hexdigest()[:20] + "22000948391f" + "0" * 32,
    ):
        text = f'{{"message_ids": ["{identifier}"], "person": "{code}"}}'
        assert pseudonymize.scrub(text) == text.replace(code, pseudonymize(code))
        assert mask(text) == text.replace(code, "[person code]")
    assert mask("x67c37501-8f4b-805b-af69-22000948391f") != "x67c37501-8f4b-805b-af69-22000948391f"  # not an id


def test_a_hub_s_lines_about_messages_name_them_and_no_person_code(start_hub, spolis):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    pseudonymize = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    handler.setFormatter(JsonFormatter(pseudonymize.scrub))
    root = logging.getLogger()
    level, root.level = root.level, logging.INFO
    root.addHandler(handler)
    try:
        hub = start_hub()
        spolis.knobs.fault_rate = 1.0
        records = factory(5).batch(3)
        ids = submit(hub, records)
        wait_for(lambda: all(hub.message_log.events(m) for m in ids.values()), timeout=30)
        spolis.knobs.fault_rate = 0.0
        wait_for(lambda: hub.store.counts().get("delivered") == 3, timeout=30)
    finally:
        root.removeHandler(handler)
        root.level = level
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (receipt,) = [line for line in lines if line["msg"] == "receipt given"]
    assert receipt["message_id"] == receipt["correlation_id"] == receipt["receipt_id"]
    retried = [line for line in lines if line["msg"] == "delivery will be retried"]
    assert retried and {m for line in retried for m in line.get("message_ids", [line.get("message_id")])} == set(
        ids.values()
    )
    assert all(line.get("correlation_id") == receipt["receipt_id"] for line in retried)
    text = stream.getvalue()
    assert not any(r.person_code in text or r.person_code.replace("-", "") in text for r in records)
