"""The sample messages under schemas/<system>/samples: for partners to copy, for tests to hold the
hub to. A sample is sent by the system whose folder holds it, or by the system its file name ends
with (`ep51-from-lietis.xml` is LIETIS asking VSAA, in VSAA's format)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from hub.settings import PROJECT_ROOT
from hub.soap import SOAP11_NS

SCHEMAS = PROJECT_ROOT / "schemas"
_EXPECT = re.compile(rb"<!-- expect: layer=(\S+) rule=(\S+) field=(\S+) -->")
_FROM = re.compile(r"-from-([a-z]+)$")


@dataclass(frozen=True)
class Sample:
    folder: str
    path: Path
    layer: str | None = None
    rule: str | None = None
    field: str | None = None

    @property
    def system(self) -> str:
        """The sending system: the endpoint the sample is posted to."""
        match = _FROM.search(self.path.stem)
        return match.group(1) if match else self.folder

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.path.parent.name}/{self.path.stem}"

    @property
    def body_element(self) -> str:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        body = etree.parse(str(self.path), parser).getroot().find(f"{{{SOAP11_NS}}}Body")
        return etree.QName(body[0]).localname if body is not None and len(body) else ""


def _folders(root: Path) -> list[str]:
    return sorted(p.parent.parent.name for p in root.glob("*/samples/valid"))


def valid_samples(root: Path = SCHEMAS) -> list[Sample]:
    return [Sample(f, p) for f in _folders(root) for p in sorted((root / f / "samples" / "valid").glob("*.xml"))]


def invalid_samples(root: Path = SCHEMAS) -> list[Sample]:
    samples = []
    for folder in _folders(root):
        for path in sorted((root / folder / "samples" / "invalid").glob("*.xml")):
            match = _EXPECT.search(path.read_bytes()[:400])
            if match is None:
                raise ValueError(f"{path} must say what it expects in an <!-- expect: ... --> comment")
            layer, rule, field = (m.decode() for m in match.groups())
            samples.append(Sample(folder, path, layer, rule, field))
    return samples


def sample(system: str, name: str) -> bytes:
    """A valid message `system` sends, found by file name or body element; `list` lists them."""
    own = [s for s in valid_samples() if s.system == system]
    if name == "list" or not own:
        listing = "\n".join(f"{s.path.stem}\t{s.body_element}\t{s.path.relative_to(SCHEMAS)}" for s in own)
        if name == "list" and own:
            return (listing + "\n").encode()
        raise LookupError(f"no samples for {system}")
    wanted = name.lower()
    for candidate in own:
        if wanted in (candidate.path.stem.lower(), candidate.body_element.lower()):
            return candidate.path.read_bytes()
    raise LookupError(f"no sample {name!r} for {system}; `hub contract sample {system} list` lists them")
