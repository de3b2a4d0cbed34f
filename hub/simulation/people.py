"""Person codes that pass every check the hub makes: real check digits, real birth dates."""

from __future__ import annotations

import datetime as dt
import random

from hub.canonical.types import person_code_check_digit


def person_code(rng: random.Random, *, new_format_share: float = 0.15) -> str:
    """An old-format code (birth date + century digit) or, for some, a post-2017 `32…` code."""
    if rng.random() < new_format_share:
        digits = "32" + "".join(str(rng.randrange(10)) for _ in range(8))
    else:
        birth = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 88))
        century = {18: "0", 19: "1", 20: "2"}[birth.year // 100]
        digits = birth.strftime("%d%m%y") + century + "".join(str(rng.randrange(10)) for _ in range(3))
    digits += person_code_check_digit(digits)
    return f"{digits[:6]}-{digits[6:]}"


def with_wrong_check_digit(code: str) -> str:
    last = int(code[-1])
    return code[:-1] + str((last + 1) % 10)
