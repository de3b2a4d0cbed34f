"""Every sample is judged the same way by lxml, by xmlschema and by xmllint, and the hub refuses
each invalid one for exactly the field and rule it says it breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from hub.errors import ValidationFailed
from hub.gateway.ingest import StatusQuery, Submission
from tests.contract.samples import SCHEMAS, Sample, invalid_samples, valid_samples

SYSTEM_XSD = {"sopa": "sopa/sopa-v1.xsd", "lietis": "lietis/lietis-v1.xsd", "gvs": "gvs/gvs-v1.xsd"}


@cache
def driver(system: str, directory: Path) -> Path:
    """One schema for whole messages: the SOAP envelope, the VISS header, the hub's types, the dialect."""
    imports = {
        "http://schemas.xmlsoap.org/soap/envelope/": SCHEMAS / "hub" / "soap-envelope-1.1.xsd",
        "urn:lv:welfare-hub:viss-header:v1": SCHEMAS / "hub" / "viss-header-v1.xsd",
        "urn:lv:welfare-hub:v1": SCHEMAS / "hub" / "hub-v1.xsd",
        etree.parse(str(SCHEMAS / SYSTEM_XSD[system])).getroot().get("targetNamespace"): SCHEMAS / SYSTEM_XSD[system],
    }
    lines = [
        f'<xs:import namespace="{ns}" schemaLocation="{path.resolve().as_uri()}"/>' for ns, path in imports.items()
    ]
    path = directory / f"{system}-message.xsd"
    path.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + "".join(lines) + "</xs:schema>", encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def drivers(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("drivers")
    return {system: driver(system, directory) for system in SYSTEM_XSD}


def by_lxml(schema: Path, sample: Path) -> bool:
    return etree.XMLSchema(etree.parse(str(schema))).validate(etree.parse(str(sample)))


def by_xmlschema(schema: Path, sample: Path) -> bool:
    return xmlschema.XMLSchema(str(schema)).is_valid(str(sample))


def by_xmllint(schema: Path, sample: Path) -> bool | None:
    if shutil.which("xmllint") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("xmllint is missing; .ci/run installs libxml2-utils")
        return None
    done = subprocess.run(
        ["xmllint", "--noout", "--nonet", "--schema", str(schema), str(sample)], capture_output=True, timeout=60
    )
    return done.returncode == 0


@pytest.mark.parametrize("sample", valid_samples(), ids=lambda s: s.id)
def test_valid_samples_pass_three_validators_and_the_hub(sample: Sample, drivers, ingest):
    schema = drivers[sample.system]
    assert by_lxml(schema, sample.path)
    assert by_xmlschema(schema, sample.path)
    assert by_xmllint(schema, sample.path) in (True, None)
    prepared = ingest.prepare(sample.system, sample.path.read_bytes())
    assert isinstance(prepared, (Submission, StatusQuery))
    if isinstance(prepared, Submission):
        assert len(prepared.envelopes) == len(prepared.rows) > 0


@pytest.mark.parametrize("sample", invalid_samples(), ids=lambda s: s.id)
def test_invalid_samples_are_refused_for_their_field_and_rule(sample: Sample, drivers, ingest):
    with pytest.raises(ValidationFailed) as caught:
        ingest.prepare(sample.system, sample.path.read_bytes())
    assert (sample.field, sample.rule) in {(e.field, e.rule) for e in caught.value.errors}
    if sample.layer in ("xsd", "soap"):
        schema = drivers[sample.system]
        assert not by_lxml(schema, sample.path)
        assert not by_xmlschema(schema, sample.path)
        assert by_xmllint(schema, sample.path) in (False, None)


def test_every_system_has_valid_and_invalid_samples():
    systems = {s.system for s in valid_samples()} & {s.system for s in invalid_samples()}
    assert systems == set(SYSTEM_XSD)
    rules = {(s.system, s.rule) for s in invalid_samples()}
    for system in SYSTEM_XSD:
        for rule in ("person-code-checksum", "minInclusive", "required", "namespace"):
            assert (system, rule) in rules
