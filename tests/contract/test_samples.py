"""Every sample is judged the same way by lxml, by xmlschema and by xmllint, and the hub refuses
each invalid one for exactly the field and rule it says it breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from hub.contracts.catalog import schema_locations
from hub.contracts.samples import SCHEMAS, Sample, invalid_samples, valid_samples
from hub.errors import Unroutable, ValidationFailed
from hub.gateway.reader import Load, Query, RequestContext, StatusQuestion
from hub.systems import discover


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    """One schema for whole messages: the SOAP envelope, the VISS header, the hub's types, every system's."""
    imports = {
        "http://schemas.xmlsoap.org/soap/envelope/": "hub/soap-envelope-1.1.xsd",
        **schema_locations(SCHEMAS),
    }
    lines = [
        f'<xs:import namespace="{ns}" schemaLocation="{(SCHEMAS / path).resolve().as_uri()}"/>'
        for ns, path in imports.items()
    ]
    path = tmp_path_factory.mktemp("driver") / "message.xsd"
    path.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + "".join(lines) + "</xs:schema>", encoding="utf-8"
    )
    return path


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
def test_valid_samples_pass_three_validators_and_the_hub(sample: Sample, driver, reader):
    schema = driver
    assert by_lxml(schema, sample.path)
    assert by_xmlschema(schema, sample.path)
    assert by_xmllint(schema, sample.path) in (True, None)
    read = reader.read(RequestContext(sample.system), sample.path.read_bytes())
    assert isinstance(read, (Load, StatusQuestion, Query))
    if isinstance(read, Load):
        assert [str(e["message_id"]) for e in read.envelopes] == [r.message_id for r in read.rows]
        assert len(read.envelopes) > 0


@pytest.mark.parametrize("sample", invalid_samples(), ids=lambda s: s.id)
def test_invalid_samples_are_refused_for_their_field_and_rule(sample: Sample, driver, reader):
    if sample.layer == "route":
        with pytest.raises(Unroutable) as refused:
            reader.read(RequestContext(sample.system), sample.path.read_bytes())
        assert sample.field in str(refused.value)
        return
    with pytest.raises(ValidationFailed) as caught:
        reader.read(RequestContext(sample.system), sample.path.read_bytes())
    assert (sample.field, sample.rule) in {(e.field, e.rule) for e in caught.value.errors}
    if sample.layer in ("xsd", "soap"):
        schema = driver
        assert not by_lxml(schema, sample.path)
        assert not by_xmlschema(schema, sample.path)
        assert by_xmllint(schema, sample.path) in (False, None)


def test_every_system_whose_format_reaches_the_hub_has_valid_and_invalid_samples():
    formats = {name for name, s in discover().items() if s.operations or s.services}
    assert {s.folder for s in valid_samples()} == formats
    assert {s.folder for s in invalid_samples()} == formats
    rules = {(s.folder, s.rule) for s in invalid_samples()}
    for system in ("sopa", "lietis", "gvs"):
        for rule in ("person-code-checksum", "minInclusive", "required", "namespace"):
            assert (system, rule) in rules
