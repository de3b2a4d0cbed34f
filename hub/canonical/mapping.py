"""Turning a dialect's values into canonical records while keeping the dialect's field names.

A partner must read "Pabalsti/Pabalsts[3]/SummaEUR: money-not-negative", not a pydantic
location in a model it never saw, so each adapter passes its map from canonical fields to
its own paths and every error comes back in the partner's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from lxml import etree
from pydantic import ValidationError

from hub.canonical.records import CanonicalRecord
from hub.canonical.types import RuleViolation
from hub.errors import FieldError, ValidationFailed

_RULE_BY_PYDANTIC_TYPE = {
    "missing": "required",
    "literal_error": "enumeration",
    "string_pattern_mismatch": "pattern",
    "string_too_short": "minLength",
    "string_too_long": "maxLength",
    "greater_than_equal": "minInclusive",
    "less_than_equal": "maxInclusive",
    "timezone_aware": "timezone-required",
    "date_parsing": "type",
    "date_from_datetime_parsing": "type",
    "datetime_parsing": "type",
    "datetime_from_date_parsing": "type",
    "decimal_parsing": "type",
    "int_parsing": "type",
    "extra_forbidden": "unexpected-field",
}


class Parsed(NamedTuple):
    """A canonical record and the element of the sender's XML it came from."""

    record: CanonicalRecord
    source: etree._Element


class RecordCollector:
    """Builds the records of one batch, collecting every field error instead of stopping at the first."""

    def __init__(self, *, max_errors: int = 100) -> None:
        self.parsed: list[Parsed] = []
        self.errors: list[FieldError] = []
        self.max_errors = max_errors

    def add(
        self,
        cls: type[CanonicalRecord],
        values: Mapping[str, Any],
        *,
        at: str,
        fields: Mapping[str, str],
        source: etree._Element,
    ) -> None:
        """`at` is the record's path in the dialect, `fields` maps canonical field names
        (dotted for nested ones) to paths below it, or from the document's top when they start with '/';
        `source` is the record's element, kept as the original XML of the record."""
        try:
            self.parsed.append(Parsed(cls.model_validate(values), source))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                if len(self.errors) < self.max_errors:
                    self.errors.append(field_error(error, at=at, fields=fields, line=source.sourceline))

    def result(self) -> list[Parsed]:
        if self.errors:
            raise ValidationFailed(self.errors)
        return self.parsed


def field_error(error: Mapping[str, Any], *, at: str, fields: Mapping[str, str], line: int | None) -> FieldError:
    """One pydantic error as a field error in the dialect's (or the payload's) words."""
    cause = (error.get("ctx") or {}).get("error")
    name = ".".join(str(part) for part in error["loc"])
    if isinstance(cause, RuleViolation):
        if cause.field:
            name = cause.field
        rule, message = cause.rule, str(cause)
    else:
        rule = _RULE_BY_PYDANTIC_TYPE.get(error["type"], error["type"])
        message = error["msg"]
    path = fields.get(name, name) if name else ""
    if path.startswith("/"):
        return FieldError(path[1:], rule, message, line)
    return FieldError(f"{at}/{path}" if path else at, rule, message, line)
