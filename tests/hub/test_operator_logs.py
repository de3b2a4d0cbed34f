"""Lines an on-call person can act on: a circuit's changes once each with why, retries and failures
with error, attempt, delay and failed-store id, every line short whatever the batch; and every look
at a stored message's personal data is in the audit trail, naming the operator."""

from __future__ import annotations

import json
import logging
import random

from hub.logs import JsonFormatter, TextFormatter, handling
from hub.pseudonym import Pseudonymizer
from hub.simulation.people import person_code

LINE_BYTES = 1024
PSEUDONYMS = Pseudonymizer(b"0123456789abcdef0123456789abcdef")


def test_a_line_about_a_large_batch_names_its_count_and_a_few_ids():
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(250)]
    entry = logging.LogRecord("hub.test", logging.WARNING, __file__, 1, "delivery will be retried", None, None)
    with handling(ids, ["c-1", "c-2"] * 125):
        text = JsonFormatter().format(entry)
    line = json.loads(text)
    assert (line["message_count"], line["message_ids"]) == (250, ids[:3])
    assert (line["correlation_count"], line["correlation_ids"]) == (2, ["c-1", "c-2"])
    assert len(text.encode()) < LINE_BYTES


def test_a_text_line_carries_the_fields_too():
    code = person_code(random.Random(5))
    entry = logging.LogRecord("hub.delivery.circuit", logging.WARNING, __file__, 1, "circuit opened", None, None)
    entry.__dict__.update(target="spolis", why=f"probe failed: no answer about {code}")
    with handling(["m-1", "m-2"], "c-1"):
        line = TextFormatter(PSEUDONYMS.scrub).format(entry)
    assert line.endswith(
        "circuit opened message_ids=m-1,m-2 message_count=2 correlation_id=c-1 target=spolis "
        f'why="probe failed: no answer about {PSEUDONYMS(code)}"'
    )
