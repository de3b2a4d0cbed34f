"""docs/configuration.md is generated from the settings and kept current; every setting says what it is."""

from __future__ import annotations

import re

from hub.cli import main
from hub.generated import is_current
from hub.operations.configuration import CONFIGURATION_FILE, render
from hub.settings import Settings


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
