"""Settings from the environment (prefix `HUB_`); docs/configuration.md, generated from this class by
`hub config`, lists each."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_PKI_DIR = Path("var/pki")  # where `hub pki dev` writes, and the hub and the simulators look


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="ignore")

    broker_url: str = Field(
        "memory://",
        description="memory:// (embedded, one process) or amqp://user:pass@host:5672/vhost (RabbitMQ; several "
        "nodes separated by ;)",
    )
    broker_prefix: str = Field("hub", description="prefix of every exchange and queue name")
    http_host: str = Field("127.0.0.1", description="address the gateway and a worker's /metrics listen on")
    http_port: int = Field(8080, description="port of the gateway, or of a worker's /metrics, /healthz and /readyz")
    store_url: str = Field(
        "sqlite:///var/hub.sqlite3",
        description="receipts, record status, failed messages, message log, audit trail: a SQLite file (created mode "
        "0600) or postgresql://user@host/db",
    )
    store_keys: SecretStr | None = Field(
        None,
        description="Fernet-format keys, comma-separated, newest first, sealing stored payloads and message "
        "bodies on the broker (AES-256-GCM)",
    )
    store_key_file: Path = Field(
        Path("var/store.key"), description="where the hub keeps a generated key when HUB_STORE_KEYS is unset"
    )
    pseudonym_key: SecretStr | None = Field(None, description="HMAC key turning person codes into pseudonyms")
    pseudonym_key_file: Path = Field(
        Path("var/pseudonym.key"), description="where the hub keeps a generated key when HUB_PSEUDONYM_KEY is unset"
    )
    audit_key: SecretStr | None = Field(
        None, description="HMAC key of the audit chain and its checkpoints; never kept in the database"
    )
    audit_key_file: Path = Field(
        Path("var/audit.key"), description="where the hub keeps a generated audit key when HUB_AUDIT_KEY is unset"
    )
    audit_checkpoint_file: Path = Field(
        Path("var/audit-checkpoints.jsonl"), description="signed checkpoints of the audit chain, a JSON line each"
    )
    audit_checkpoint_entries: int = Field(
        100, ge=1, description="a checkpoint after this many entries a process appended since its last one"
    )
    audit_checkpoint_seconds: float = Field(
        60, gt=0, description="how often the gateway checkpoints the chain's head when it moved (any process's entries)"
    )
    signatures: Literal["required", "off"] = Field(
        "required", description="partners sign requests, the hub signs its own; off only on closed test networks"
    )
    partner_certs_dir: Path = Field(
        DEV_PKI_DIR,
        description="partners' certificates, <system>.pem or <system>.<label>.pem (several during a rotation)",
    )
    signing_key: SecretStr | None = Field(None, description="the hub's own signing key, PEM; else HUB_SIGNING_KEY_FILE")
    signing_key_file: Path = Field(
        DEV_PKI_DIR / "hub.key", description="the hub's own signing key when HUB_SIGNING_KEY is unset"
    )
    signing_cert_file: Path = Field(DEV_PKI_DIR / "hub.pem", description="the hub's own certificate")
    signature_max_age_seconds: float = Field(300, gt=0, description="oldest signed timestamp accepted")
    routes_file: Path = Field(
        PROJECT_ROOT / "config" / "routes.toml",
        description="routes: each type's target and flow, retry policy, deadline, circuit breaker",
    )
    access_file: Path = Field(PROJECT_ROOT / "config" / "access.toml", description="who may send and ask what")
    rates_file: Path = Field(
        PROJECT_ROOT / "config" / "rates.toml", description="dated rates (assistant service funding per hour)"
    )
    schemas_dir: Path = Field(PROJECT_ROOT / "schemas", description="the XSDs and WSDLs")
    endpoints: dict[str, str] = Field(
        default_factory=dict,
        json_schema_extra={"env_key": "SYSTEM"},
        description="a target's SOAP endpoint, e.g. HUB_ENDPOINTS__SPOLIS=http://spolis:8091/soap/spolis; "
        "unset, the adapter's default: its simulator's port on 127.0.0.1",
    )
    workers_per_target: int = Field(
        1,
        ge=1,
        description="delivery threads per target; they share one GIL, so more only help a slow target: "
        "scale with worker processes",
    )
    delivery_batch_size: int = Field(
        250,
        ge=1,
        le=1000,
        description="records per call to a target (their schemas allow 1,000); a call's signature, HTTP "
        "round trip and status update are paid once per batch",
    )
    gateway_processes: int = Field(
        0,
        ge=0,
        le=64,
        description="processes that parse, verify and map data loads, store their rows as pending and build "
        "their receipts, beside the gateway's own (one GIL holds it to one core); 0 does it in the gateway's "
        "threads, two loads at a time. Set to the cores the gateway may use",
    )
    delivery_flush_seconds: float = Field(0.05, gt=0, description="longest wait to fill a batch")
    prefetch_count: int = Field(500, ge=1, le=2000, description="two batches: one is filled while one is delivered")
    delivery_limit: int = Field(5, ge=2, description="deliveries without an ack before a message is poison")
    publish_timeout_seconds: float = Field(
        10.0, gt=0, description='longest wait for the broker\'s confirms before the gateway answers "retry later"'
    )
    target_timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout of calls to targets")
    query_concurrency: int = Field(16, ge=1, le=256, description="queries a process asks a target at once")
    max_request_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="largest request body")
    max_batch_records: int = Field(1000, ge=1, description="most records in one data load")
    xml_max_depth: int = Field(32, ge=4, le=200, description="deepest element nesting accepted")
    xml_max_attributes: int = Field(32, ge=4, le=1000, description="most attributes on one element")
    xml_max_namespaces_per_element: int = Field(
        32, ge=4, le=1000, description="most namespace declarations on one element"
    )
    xml_max_namespaces: int = Field(
        4096, ge=32, le=1_000_000, description="most namespace declarations in a request (`xmlns` counted in its bytes)"
    )
    request_cpu_seconds: float = Field(
        2.0, gt=0, description="CPU time one request may take to be parsed, verified, validated and mapped"
    )
    message_log_retention_days: float = Field(30, gt=0, description="how long `hub trace` can look back")
    payload_retention_days: float = Field(
        30, gt=0, description="how long stored payloads (original XML, failed messages' envelopes) are kept"
    )
    admin_host: str = Field(
        "127.0.0.1", description="address of the admin listener: the operators' console and its JSON API at /api/"
    )
    admin_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="port of the admin listener, in processes that run the gateway; unset, no console and no "
        "JSON API. Never the partners' port (HUB_HTTP_PORT)",
    )
    console_session_minutes: float = Field(
        30, gt=0, description="a console session ends after this long without a request (and 12 hours after login)"
    )
    log_level: str = Field("INFO", description="log level; `hub demo` logs warnings only unless it is set")
    log_format: Literal["json", "text"] = Field(
        "json", description="json (one object per line, for machines) or text (for people)"
    )

    @field_validator("store_keys", "pseudonym_key", "audit_key", "signing_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (docker-compose's `${X:-}`) means unset, never an empty secret."""
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class GivenSettings(Settings):
    """Settings from the values given alone, none from the environment: what another process is to
    run with (see `environment`), whatever HUB_ variables the shell holds."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_):  # type: ignore[no-untyped-def, override]
        return (init_settings,)


def environment(settings: Settings) -> dict[str, str]:
    """The HUB_ variables from which another process's `Settings()` is `settings`: one for each field
    that was set, given or read from the environment, so the others keep their defaults there too
    (`hub demo` still sees HUB_LOG_LEVEL unset); a mapping as one variable per key
    (HUB_ENDPOINTS__SPOLIS; keys come back in lower case), a secret revealed, an unset secret empty.
    A relative path stays relative: to the other process's working directory."""
    prefix, nested = settings.model_config["env_prefix"], settings.model_config["env_nested_delimiter"]
    variables: dict[str, str] = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        named = {f"{name}{nested}{key}": v for key, v in value.items()} if isinstance(value, dict) else {name: value}
        for variable, item in named.items():
            if isinstance(item, SecretStr):
                item = item.get_secret_value()
            variables[f"{prefix}{variable}".upper()] = "" if item is None else str(item)
    return variables


def without_hub_variables() -> dict[str, str]:
    """This process's environment without its HUB_ variables: a child given `environment(settings)` on
    top has those settings and no others of this process's."""
    return {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
