"""Log lines are JSON, carry the ids of the message being handled, and never a person code."""

from __future__ import annotations

import json
import logging
import random

from hub.logs import JsonFormatter, TextFormatter, handling
from hub.pseudonym import Pseudonymizer
from hub.simulation.people import person_code


def record(msg: str, **extra) -> logging.LogRecord:
    entry = logging.LogRecord("hub.test", logging.WARNING, __file__, 1, msg, None, None)
    entry.__dict__.update(extra)
    return entry


def test_lines_carry_the_message_and_correlation_id():
    with handling("m-1", "c-1"):
        line = json.loads(JsonFormatter().format(record("delivered", target="spolis")))
    assert (line["message_id"], line["correlation_id"], line["target"]) == ("m-1", "c-1", "spolis")
    assert "message_id" not in json.loads(JsonFormatter().format(record("idle")))


def test_person_codes_become_pseudonyms_wherever_they_hide():
    code = person_code(random.Random(1))
    pseudonymize = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    try:
        raise ValueError(f"bad input {code}")
    except ValueError:
        import sys

        entry = record(f"about {code}", detail={"person": code.replace("-", "")}, exc_info=sys.exc_info())
    line = JsonFormatter(pseudonymize).format(entry)
    assert code not in line and code.replace("-", "") not in line
    assert pseudonymize(code) in line
    assert code not in TextFormatter().format(record(f"about {code}"))
