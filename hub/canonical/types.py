"""Value types shared by every canonical record.

They validate on construction, so a record that exists is a record that is valid; the error
messages name the rule that failed, because partners read them in SOAP Faults.
"""

from __future__ import annotations

import datetime as dt
import operator
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo


class RuleViolation(ValueError):
    """A value broke a named rule; `rule` travels to the Fault and to metrics."""

    def __init__(self, rule: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.field = field


CHECKED = "checked"  # validation context: the value was fully checked when it entered the hub


_PERSON_CODE_WEIGHTS = (10, 5, 8, 4, 2, 1, 6, 3, 7, 9)
_ASCII_ZEROS = ord("0") * sum(_PERSON_CODE_WEIGHTS)  # what the weights add when summing character codes


def person_code_check_digit(digits: str) -> str:
    """The check digit of a person code's first ten digits (the algorithm python-stdnum uses).
    It sums the digits' character codes rather than converting each digit: it runs for every record of
    every load."""
    return str((1 + sum(map(operator.mul, _PERSON_CODE_WEIGHTS, digits[:10].encode())) - _ASCII_ZEROS) % 11 % 10)


def _check_person_code(value: str, info: ValidationInfo) -> str:
    digits = value[:6] + value[7:]
    if len(value) != 12 or value[6] != "-" or not (digits.isascii() and digits.isdigit()):
        raise RuleViolation("person-code-format", "person code must look like DDMMYY-NNNNN")
    if digits[0] > "3":
        raise RuleViolation("person-code-format", "a person code starts with 0-3 (higher is a company number)")
    if info.context and info.context.get(CHECKED):
        return value  # check digit and birth date were checked at the gateway
    if not digits.startswith("32"):  # since 2017 codes start with 32 and carry no birth date
        try:
            dt.date(1800 + int(digits[6]) * 100 + int(digits[4:6]), int(digits[2:4]), int(digits[:2]))
        except ValueError:
            raise RuleViolation("person-code-date", "person code does not start with a valid birth date") from None
    if person_code_check_digit(digits[:10]) != digits[10]:
        raise RuleViolation("person-code-checksum", "person code check digit is wrong")
    return value


def _check_money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise RuleViolation("money-finite", "amount must be a number")
    if value < 0:
        raise RuleViolation("money-not-negative", "amount must not be negative")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RuleViolation("money-two-decimals", "amount has more than two decimals")
    return value.quantize(Decimal("0.01"))


def _reject_float(value: object) -> object:
    if isinstance(value, float):
        raise RuleViolation("money-decimal", "amounts are exchanged as decimal strings, never floats")
    return value


PersonCode = Annotated[str, AfterValidator(_check_person_code)]
"""Latvian personas kods, `DDMMYY-NNNNN`; the old (birth date) and the 2017 (`32…`) formats."""

Money = Annotated[Decimal, BeforeValidator(_reject_float), AfterValidator(_check_money)]
"""EUR amount, never negative, two decimals."""

AtvkCode = Annotated[str, Field(pattern=r"^[0-9]{7}$")]
"""Municipality by its ATVK classifier code (seven digits)."""

ProviderRegisterNo = Annotated[str, Field(pattern=r"^[A-Z0-9-]{3,20}$")]
"""Social service provider register number (LM register)."""

RECORD_ID_MAX = 200
RecordId = Annotated[str, Field(min_length=1, max_length=RECORD_ID_MAX)]
"""A source system's own key of a record. Every partner schema caps it at this length and the
status store's column holds that many: a longer one is refused at the boundary, naming the field,
not by the database as an internal error."""

Text = Annotated[str, Field(min_length=1, max_length=500)]
