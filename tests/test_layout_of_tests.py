"""How the tests are laid out: a test module or conftest.py takes what it shares with others from
tests/helpers, never from another test module or a conftest.py (pytest imports those itself; imported
again by name, a module's tests and fixtures are collected from a second copy, and moving a test
breaks whoever imported from it)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def imports(source: str, module: str) -> set[str]:
    """The modules `source`, the text of `module`, imports or imports from, relative imports resolved;
    for `from a import b`, both `a` and `a.b` (b may be a module)."""
    package = module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            name = ".".join(part for part in (base, node.module or "") if part)
            found |= {name, *(f"{name}.{alias.name}" for alias in node.names)}
    return found


def is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def not_from_helpers(source: str, module: str) -> list[str]:
    """What `module` imports of the tests package other than tests.helpers."""
    of_tests = {name for name in imports(source, module) if name.startswith("tests.")}
    return sorted(name for name in of_tests if is_test_module(name) or not (name + ".").startswith("tests.helpers."))


def test_test_modules_take_shared_code_from_helpers_only():
    wrong = {}
    for path in sorted(TESTS.rglob("*.py")):
        module = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)
        if found := not_from_helpers(path.read_text(encoding="utf-8"), module):
            wrong[str(path.relative_to(TESTS.parent))] = found
    assert wrong == {}, "move what is shared into tests/helpers and import it from there"


def test_every_way_of_importing_a_test_module_is_seen():
    module = "tests.hub.test_example"
    for line in (
        "from tests.hub.test_gateway import wait_for",
        "import tests.hub.test_worker",
        "from tests.hub import test_worker",
        "from .test_worker import factory",
        "from ..conftest import signed",
        "from tests.contract.samples import SCHEMAS",  # not a test module, but not a helper either
    ):
        assert not_from_helpers(line, module), f"{line!r} unseen"
    for line in ("from tests.helpers import wait_for", "from tests.helpers.wsse import signed", "import pytest"):
        assert not not_from_helpers(line, module), line
