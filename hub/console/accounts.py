"""`hub operators …`: who may use the console and the JSON API, and as what role; every change audited."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from hub.exits import NO, CommandFailed
from hub.runtime import Components, build
from hub.settings import get_settings
from hub.store.db import Database
from hub.store.operators import ROLES, AccountError, OperatorStore


def _parts() -> Components:
    return build(get_settings(), create=False)


def _store(parts: Components) -> OperatorStore:
    """The accounts in the hub's store, which must exist; their tables are made there if missing, since a
    hub without the console never made them."""
    db = parts.db
    return OperatorStore(Database(db.engine, db.sealer, db.scrub, create=True))


def _administrator() -> str:
    return os.environ.get("HUB_OPERATOR") or getpass.getuser()


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandFailed("no terminal to ask the password on: give it on stdin with --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("the same again: ") != first:
        raise CommandFailed("the passwords differ; nothing was changed")
    return first


def _add(args: argparse.Namespace) -> int:
    parts = _parts()
    store = _store(parts)
    try:
        account = store.add(args.name, args.role, _password(args))
    except AccountError as exc:
        raise CommandFailed(str(exc)) from None
    parts.audit.record(
        operator=_administrator(), action="operator-add", subject=account.name, reason="", details={"role": args.role}
    )
    print(f"added {account.name} ({account.role})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    parts = _parts()
    if not _store(parts).remove(args.name):
        raise CommandFailed(f"no operator {args.name}", NO)
    parts.audit.record(operator=_administrator(), action="operator-remove", subject=args.name, reason="", details={})
    print(f"removed {args.name}, their sessions and API tokens")
    return 0


def _list(args: argparse.Namespace) -> int:
    accounts = _store(_parts()).accounts()
    if not accounts:
        print("no operators: `hub operators add NAME --role operator` makes one")
    for a in accounts:
        print(f"{a.name:<24}  {a.role:<8}  added {a.created_at:%Y-%m-%d %H:%M}" + ("  disabled" if a.disabled else ""))
    return 0


def _token(args: argparse.Namespace) -> int:
    parts = _parts()
    try:
        token = _store(parts).new_token(args.name)
    except AccountError as exc:
        raise CommandFailed(str(exc), NO) from None
    parts.audit.record(operator=_administrator(), action="token-add", subject=args.name, reason="", details={})
    print(token)
    print("shown this once: the hub keeps only its hash", file=sys.stderr)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    accounts = commands.add_parser("operators", help="the console's and JSON API's accounts (audited)")
    sub = accounts.add_subparsers(dest="operators_command", required=True, metavar="<command>")

    add = sub.add_parser("add", help="a new account; the password asked twice, or read from stdin")
    add.add_argument("name", help="the login name, as the audit trail will show it")
    add.add_argument(
        "--role", choices=ROLES, required=True, help="viewer: sees every page; operator: also replays, edits, discards"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    add.set_defaults(func=_add)

    remove = sub.add_parser("remove", help="an account gone, with its sessions and API tokens")
    remove.add_argument("name", help="the account's login name")
    remove.set_defaults(func=_remove)

    listing = sub.add_parser("list", help="every account and its role")
    listing.set_defaults(func=_list)

    token = sub.add_parser("token", help="a new API token for an account, printed once (the hub keeps its hash)")
    token.add_argument("name", help="the account the token acts as")
    token.set_defaults(func=_token)
