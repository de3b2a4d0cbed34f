"""JSON-lines logging: one object per line with the message, the ids of the message being handled,
and every `extra` field. A line about one message carries `message_id` and `correlation_id`; a line
about a batch carries `message_count` and at most `EXAMPLES` of its ids in `message_ids` (likewise
`correlation_count`, `correlation_ids`), so a line stays short however large the batch: a batch's
every id is in the message log, where `hub trace` finds it.

Callers pass ids, counts, rule names and error classes, never payloads. As a second guard, every
line (text, extras, tracebacks) is searched for anything shaped like a person code, which is
replaced by its keyed-hash pseudonym before the line is written.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import orjson

from hub.pseudonym import mask

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}

EXAMPLES = 3  # ids a line names of a batch
TEXT_CHARS = 300  # the longest free text (an error, a reason) a line carries


class Batch(NamedTuple):
    """A batch's distinct ids, as a line names them: how many, and the first few."""

    count: int
    examples: tuple[str, ...]


Ids = str | Batch | None
message_id: contextvars.ContextVar[Ids] = contextvars.ContextVar("message_id", default=None)
correlation_id: contextvars.ContextVar[Ids] = contextvars.ContextVar("correlation_id", default=None)


def _ids(values: str | Sequence[str] | None) -> Ids:
    if values is None or isinstance(values, str):
        return values
    distinct = list(dict.fromkeys(v for v in values if v))
    if len(distinct) <= 1:
        return distinct[0] if distinct else None
    return Batch(len(distinct), tuple(distinct[:EXAMPLES]))


def _fields(key: str, ids: Ids) -> dict[str, object]:
    if isinstance(ids, str):
        return {key: ids}
    if ids is None:
        return {}
    return {f"{key}s": list(ids.examples), f"{key.removesuffix('_id')}_count": ids.count}


def about(message_ids: Sequence[str]) -> dict[str, object]:
    """`extra` fields for a line about these messages (of a batch, or all of it): `message_id` for
    one; else `message_count` and a few `message_ids`."""
    return _fields("message_id", _ids(message_ids))


def short(text: str, scrub: Callable[[str], str] = mask, limit: int = TEXT_CHARS) -> str:
    """Free text fit for a line: person codes out first (a cut could leave part of one, which the
    line's own guard would no longer see), on one line, at most `limit` characters."""
    text = " ".join(scrub(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def handling(
    message: str | Sequence[str] | None = None, correlation: str | Sequence[str] | None = None
) -> Iterator[None]:
    """Every line logged inside names these messages and correlation ids (one, or a batch's: its
    count and a few examples)."""
    tokens = (message_id.set(_ids(message)), correlation_id.set(_ids(correlation)))
    try:
        yield
    finally:
        message_id.reset(tokens[0])
        correlation_id.reset(tokens[1])


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: Callable[[str], str] = mask) -> None:
        """`scrub`: replaces person codes in a finished line (a pseudonymizer's, else a marker)."""
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_line_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.scrub(orjson.dumps(entry, default=str).decode())


class TextFormatter(logging.Formatter):
    """For people: the message, then the same fields as the JSON line's, as key=value."""

    def __init__(self, scrub: Callable[[str], str] = mask) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.scrub = scrub

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_text(v)}" for k, v in _line_fields(record).items())
        return super().formatMessage(record) + (f" {fields}" if fields else "")

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


def _line_fields(record: logging.LogRecord) -> dict[str, object]:
    """The ids of the messages being handled, then the line's `extra` fields."""
    extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
    fields: dict[str, object] = {}
    for key, current in (("message_id", message_id.get()), ("correlation_id", correlation_id.get())):
        if key in extra or f"{key}s" in extra:
            continue  # a line about one message of a batch names that message, not the batch
        fields.update(_fields(key, current))
    return fields | extra


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    text = str(value)
    return orjson.dumps(text).decode() if not text or any(c.isspace() or c == '"' for c in text) else text


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is logged, not when logging was configured:
    a command run inside another program (tests, a REPL) must not write to a stream since closed."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


def configure(level: str = "INFO", fmt: str = "json", scrub: Callable[[str], str] = mask) -> None:
    handler = _CurrentStderr()
    handler.setFormatter(JsonFormatter(scrub) if fmt == "json" else TextFormatter(scrub))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "amqp", "kombu"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pika logs every failed reconnect as an error; the publisher reports connection state itself.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
