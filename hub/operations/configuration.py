"""docs/configuration.md, generated from `hub.settings.Settings`: every setting with its environment
variable, default and description. `hub config` writes it, `hub config --check` (run by the tests)
fails when the committed file no longer matches the settings."""

from __future__ import annotations

import typing
from pathlib import Path

import annotated_types
from pydantic.fields import FieldInfo

from hub.settings import PROJECT_ROOT, Settings

CONFIGURATION_FILE = PROJECT_ROOT / "docs" / "configuration.md"

HEADER = """\
# Configuration

<!-- Generated from hub/settings.py by `hub config`; `hub config --check` fails when it is stale. -->

Every setting is an environment variable with the prefix `HUB_`. An empty secret (`HUB_STORE_KEYS=`,
as docker-compose's `${X:-}` gives) means unset. Paths are relative to the working directory, except
the defaults under `config/` and `schemas/`, which are the project's own.

Without `HUB_STORE_KEYS`, `HUB_PSEUDONYM_KEY` and `HUB_AUDIT_KEY` the hub creates key files and warns:
fine on one machine, never in production (see [SECURITY.md](../SECURITY.md) for keys and rotation).

| variable | default | allowed | what |
| --- | --- | --- | --- |
"""

FOOTER = """
The tests also read `HUB_TEST_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672//`) and
`HUB_TEST_PG_URL` (default `postgresql://postgres@127.0.0.1:5432/test`); with `CI=true` a test that
needs RabbitMQ fails instead of skipping. The benchmark reads `HUB_BENCH_AMQP_URL` (the same default).
"""


def variable(name: str, field: FieldInfo) -> str:
    prefix = Settings.model_config.get("env_prefix", "")
    nested = Settings.model_config.get("env_nested_delimiter")
    env = f"{prefix}{name}".upper()
    if typing.get_origin(field.annotation) is dict and nested:
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        env += f"{nested}<{extra.get('env_key', 'KEY')}>"
    return f"`{env}`"


def default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "unset" if not value else f"`{value}`"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, Path):
        value = value.relative_to(PROJECT_ROOT) if value.is_relative_to(PROJECT_ROOT) else value
    return f"`{value}`"


def allowed(field: FieldInfo) -> str:
    if typing.get_origin(field.annotation) is typing.Literal:
        return ", ".join(f"`{choice}`" for choice in typing.get_args(field.annotation))
    bounds = []
    for constraint in field.metadata:
        match constraint:
            case annotated_types.Ge(ge=bound):
                bounds.append(f"≥ {bound}")
            case annotated_types.Gt(gt=bound):
                bounds.append(f"> {bound}")
            case annotated_types.Le(le=bound):
                bounds.append(f"≤ {bound}")
            case annotated_types.Lt(lt=bound):
                bounds.append(f"< {bound}")
    return ", ".join(bounds)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> bytes:
    rows = [
        f"| {variable(name, field)} | {_cell(default(field))} | {_cell(allowed(field))} "
        f"| {_cell(field.description or '')} |"
        for name, field in Settings.model_fields.items()
    ]
    return (HEADER + "\n".join(rows) + "\n" + FOOTER).encode("utf-8")
