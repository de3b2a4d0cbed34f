"""`hub contract …`: the partner integrators' kit, offline (no broker, no hub running).

`check` runs a partner's message through exactly what the gateway does (hardened parse, SOAP 1.1,
VISS header, XSD, canonical rules) and prints each error with its line and rule; `sample` prints a
valid message; `wsdl` writes (or with --check, verifies) the WSDLs under schemas/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.contracts.catalog import wsdls
from hub.errors import HubError, ValidationFailed
from hub.exits import CommandFailed
from hub.gateway.reader import RequestContext
from hub.generated import is_current, write_if_changed
from hub.runtime import build
from hub.settings import get_settings


def _reader():  # type: ignore[no-untyped-def]
    parts = build(get_settings(), create=False)
    return parts.reader(offline=True), parts.systems


def _check(args: argparse.Namespace) -> int:
    reader, systems = _reader()
    if args.system not in systems or not systems[args.system].calls_hub:
        callers = ", ".join(sorted(name for name, system in systems.items() if system.calls_hub))
        raise CommandFailed(f"{args.system} sends nothing to the hub; systems that do: {callers}")
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CommandFailed(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        read = reader.read(RequestContext(args.system), data)
    except ValidationFailed as exc:
        for error in exc.errors:
            line = f"line {error.line}: " if error.line else ""
            print(f"{args.file}: {line}{error.field}: {error.rule}: {error.message}")
        print(f"{len(exc.errors)} error(s); the hub would answer a Client Fault")
        return 1
    except HubError as exc:
        print(f"{args.file}: {exc.error_class}: {exc}")
        return 1
    kind = {"Load": "data load", "Query": "per-person query", "StatusQuestion": "status question"}[type(read).__name__]
    count = len(getattr(read, "rows", []) or [1])
    print(f"{args.file}: valid {kind} for {args.system} ({count} record(s) would be sent)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from hub.contracts.samples import sample

    try:
        sys.stdout.write(sample(args.system, args.message_type).decode("utf-8"))
    except LookupError as exc:
        raise CommandFailed(str(exc).strip("'\"")) from None
    return 0


def _wsdl(args: argparse.Namespace) -> int:
    parts = build(get_settings(), create=False)
    settings = parts.settings
    documents = wsdls(parts.systems, parts.access, settings.schemas_dir)
    stale = []
    for relative, content in sorted(documents.items()):
        path = settings.schemas_dir / relative
        if args.check:
            if not is_current(path, content):
                stale.append(relative)
        elif write_if_changed(path, content):
            print(f"wrote {relative}")
    if stale:
        print("out of date (run `hub contract wsdl`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    contract = commands.add_parser("contract", help="the integrators' contract kit (offline)")
    sub = contract.add_subparsers(dest="contract_command", required=True)
    check = sub.add_parser("check", help="validate a partner's SOAP message as the gateway would")
    check.add_argument("system", help="the sending system, e.g. sopa")
    check.add_argument("file", help="the whole SOAP message, as the partner would send it")
    check.set_defaults(func=_check)
    sample = sub.add_parser("sample", help="print a valid example message")
    sample.add_argument("system", help="the system whose messages to show, e.g. lietis")
    sample.add_argument("message_type", help="an operation name or canonical type; `list` lists them")
    sample.set_defaults(func=_sample)
    wsdl = sub.add_parser("wsdl", help="write the WSDLs under schemas/ from the adapters and routes")
    wsdl.add_argument("--check", action="store_true", help="only say whether the files are up to date")
    wsdl.set_defaults(func=_wsdl)
