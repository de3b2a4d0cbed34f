"""docs/configuration.md is generated from the settings and kept current; every setting says what it is."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hub.cli import main
from hub.generated import is_current
from hub.operations.configuration import CONFIGURATION_FILE, render
from hub.settings import Settings, environment


def test_the_committed_page_is_current():
    assert is_current(CONFIGURATION_FILE, render()), "docs/configuration.md is out of date: run `hub config`"
    assert main(["config", "--check"]) == 0


def test_every_setting_has_a_description_without_figures_from_a_measurement():
    for name, field in Settings.model_fields.items():
        assert field.description, f"HUB_{name.upper()} has no description"
        assert not re.search(r"µs|records/s|\bbench", field.description), f"HUB_{name.upper()}: {field.description}"


def test_every_setting_is_a_row_with_its_default():
    page = render().decode()
    for name in Settings.model_fields:
        assert re.search(rf"^\| `HUB_{name.upper()}(__<\w+>)?` \| ", page, re.M), name
    assert "| `HUB_HTTP_PORT` | `8080` |" in page
    assert "| `HUB_ROUTES_FILE` | `config/routes.toml` |" in page  # relative to the project, wherever it is
    assert "| `HUB_STORE_KEYS` | unset |" in page


def test_check_fails_on_a_stale_file_and_writing_makes_it_current(tmp_path, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text("# Configuration\n", encoding="utf-8")
    assert main(["config", "--check", "--output", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["config", "--output", str(stale)]) == 0
    assert main(["config", "--check", "--output", str(stale)]) == 0


def test_the_environment_of_settings_gives_another_process_the_same_settings(monkeypatch, tmp_path):
    """`environment(s)` is what a child process needs for its `Settings()` to equal `s`: secrets, paths,
    numbers, a choice, the endpoints one variable each; a field left unset stays unset there too."""
    settings = Settings(
        broker_url="amqp://guest:guest@node-1:5672//;amqp://guest:guest@node-2:5672//",
        store_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        store_keys="a2V5LW9uZQ==,a2V5LXR3bw==",
        store_key_file=tmp_path / "store.key",
        pseudonym_key=None,
        signatures="off",
        routes_file=Path("config/routes.toml"),
        endpoints={"spolis": "http://spolis:8091/soap/spolis", "vsaa": "http://vsaa:8092/soap/vsaa?x=1&y=2"},
        http_port=0,
        delivery_flush_seconds=0.025,
        log_format="text",
    )
    variables = environment(settings)
    assert variables["HUB_ENDPOINTS__SPOLIS"] == "http://spolis:8091/soap/spolis"
    assert variables["HUB_STORE_KEYS"] == "a2V5LW9uZQ==,a2V5LXR3bw==" and variables["HUB_PSEUDONYM_KEY"] == ""
    assert "HUB_LOG_LEVEL" not in variables, "unset here, unset there: `hub demo` is quiet unless it is set"
    for name in [name for name in os.environ if name.startswith("HUB_")]:
        monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert again == settings
    assert again.model_fields_set == settings.model_fields_set
    assert again.store_keys.get_secret_value() == settings.store_keys.get_secret_value()


def test_settings_read_from_the_environment_give_that_environment_back(monkeypatch):
    for name in [name for name in os.environ if name.startswith("HUB_")]:
        monkeypatch.delenv(name)
    assert environment(Settings()) == {}
    monkeypatch.setenv("HUB_WORKERS_PER_TARGET", "3")
    monkeypatch.setenv("HUB_ENDPOINTS__SOPA", "http://sopa/soap/sopa")
    assert environment(Settings()) == {"HUB_WORKERS_PER_TARGET": "3", "HUB_ENDPOINTS__SOPA": "http://sopa/soap/sopa"}
