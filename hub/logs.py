"""JSON-lines logging: one object per line with the message, the ids of the message being handled,
and every `extra` field. A line about one message carries `message_id` and `correlation_id`; a line
about a batch carries `message_ids` and `correlation_ids` (lists), so a search for an id finds both.

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

import orjson

from hub.pseudonym import mask

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}

Ids = str | tuple[str, ...] | None
message_id: contextvars.ContextVar[Ids] = contextvars.ContextVar("message_id", default=None)
correlation_id: contextvars.ContextVar[Ids] = contextvars.ContextVar("correlation_id", default=None)


def _ids(values: str | Sequence[str] | None) -> Ids:
    if values is None or isinstance(values, str):
        return values
    distinct = tuple(dict.fromkeys(v for v in values if v))
    return distinct[0] if len(distinct) == 1 else distinct or None


@contextmanager
def handling(
    message: str | Sequence[str] | None = None, correlation: str | Sequence[str] | None = None
) -> Iterator[None]:
    """Every line logged inside names these messages and correlation ids (one, or a batch's)."""
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
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        for key, current in (("message_id", message_id.get()), ("correlation_id", correlation_id.get())):
            if key in extra or f"{key}s" in extra:
                continue  # a line about one message of a batch names that message, not the batch
            if isinstance(current, str):
                entry[key] = current
            elif current:
                entry[f"{key}s"] = list(current)
        entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.scrub(orjson.dumps(entry, default=str).decode())


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


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
    handler.setFormatter(JsonFormatter(scrub) if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "amqp", "kombu"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pika logs every failed reconnect as an error; the publisher reports connection state itself.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
