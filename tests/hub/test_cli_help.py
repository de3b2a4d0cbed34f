"""Every `hub` command says what it does, and every option what it is for."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from hub.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: str = "hub") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_and_option_has_help():
    missing = []
    for path, parser in _parsers(build_parser()):
        if not parser.description:
            missing.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_help_shows_defaults():
    parsers = dict(_parsers(build_parser()))
    serve = parsers["hub serve"].format_help()
    assert "(default: all)" in serve and "Ctrl-C" in serve
    assert "(default: 8092)" in parsers["hub simulate vsaa"].format_help()
    assert "(default: 1000)" in parsers["hub simulate sopa"].format_help()
