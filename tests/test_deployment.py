"""docker-compose.yml and monitoring/ agree with the code (no Docker engine runs here)."""

from __future__ import annotations

import shlex

import yaml

from hub.cli import build_parser
from hub.settings import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_every_hub_command_in_compose_is_a_real_command():
    commands = [s["command"] for s in COMPOSE["services"].values() if s.get("command", [""])[0] == "hub"]
    assert len(commands) >= 2
    for command in commands:
        build_parser().parse_args(command[1:])


def test_every_hub_variable_in_compose_is_a_setting():
    fields = set(Settings.model_fields)
    for service in COMPOSE["services"].values():
        for name in service.get("environment", {}):
            if name.startswith("HUB_"):
                key = name[4:].lower().split("__")[0]
                assert key in fields, f"{name} is not a hub setting"


def test_ports_agree_between_compose_settings_and_prometheus():
    hub = COMPOSE["services"]["hub"]
    assert f"{hub['environment']['HUB_HTTP_PORT']}:{hub['environment']['HUB_HTTP_PORT']}" in hub["ports"]
    for name in ("spolis", "vsaa", "vdeavk", "sopa", "lietis", "burvis"):
        service = COMPOSE["services"][name]
        port = service["command"][service["command"].index("--port") + 1]
        assert hub["environment"][f"HUB_ENDPOINTS__{name.upper()}"] == f"http://{name}:{port}/soap/{name}"
    prometheus = yaml.safe_load((PROJECT_ROOT / "monitoring" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"hub:{hub['environment']['HUB_HTTP_PORT']}"]


def test_the_image_copies_what_the_hub_reads_at_run_time():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    for folder in ("hub", "adapters", "schemas", "config"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    healthcheck = " ".join(COMPOSE["services"]["hub"]["healthcheck"]["test"])
    assert "/readyz" in shlex.split(healthcheck)[-1]


def test_the_readme_documents_every_setting():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`HUB_{name.upper()}" in readme, f"HUB_{name.upper()} is missing from the README"


def test_an_empty_secret_variable_means_unset(monkeypatch):
    monkeypatch.setenv("HUB_ADMIN_TOKEN", "")
    monkeypatch.setenv("HUB_STORE_KEYS", " ")
    settings = Settings()
    assert settings.admin_token is None and settings.store_keys is None


def test_every_system_has_its_page_and_the_pages_point_at_files_that_exist():
    import re

    from hub.systems import discover

    for name in discover():
        page = PROJECT_ROOT / "docs" / "systems" / f"{name}.md"
        assert page.is_file(), f"docs/systems/{name}.md is missing"
        for path in re.findall(r"`(schemas/[^`]+)`", page.read_text(encoding="utf-8")):
            assert (PROJECT_ROOT / path).exists(), f"{page.name} names {path}, which does not exist"
