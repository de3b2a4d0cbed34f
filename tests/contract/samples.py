"""The sample messages under schemas/<system>/samples and what each invalid one must be refused for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hub.settings import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "schemas"
SOURCES = ("sopa", "lietis", "gvs")
_EXPECT = re.compile(rb"<!-- expect: layer=(\S+) rule=(\S+) field=(\S+) -->")


@dataclass(frozen=True)
class Sample:
    system: str
    path: Path
    layer: str | None = None
    rule: str | None = None
    field: str | None = None

    @property
    def id(self) -> str:
        return f"{self.system}/{self.path.parent.name}/{self.path.stem}"


def valid_samples() -> list[Sample]:
    return [Sample(s, p) for s in SOURCES for p in sorted((SCHEMAS / s / "samples" / "valid").glob("*.xml"))]


def invalid_samples() -> list[Sample]:
    samples = []
    for system in SOURCES:
        for path in sorted((SCHEMAS / system / "samples" / "invalid").glob("*.xml")):
            match = _EXPECT.search(path.read_bytes()[:400])
            assert match, f"{path} must say what it expects in an <!-- expect: ... --> comment"
            layer, rule, field = (m.decode() for m in match.groups())
            samples.append(Sample(system, path, layer, rule, field))
    return samples
