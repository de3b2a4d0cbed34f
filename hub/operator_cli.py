"""`hub failed …`, `hub audit …`, `hub store …`: the operators' commands, on hub.operators."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import getpass
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from hub.broker.codec import BrokerCodec
from hub.broker.publisher import create_publisher
from hub.envelope import utcnow
from hub.errors import ValidationFailed
from hub.operators import STATES, FailedMessages, NotFound, make_filter, to_json
from hub.routing import Router
from hub.runtime import build_topology, open_database
from hub.settings import get_settings
from hub.store.audit import AuditLog
from hub.store.failed import FailedStore, Filter
from hub.store.message_log import MessageLog
from hub.systems import discover


def _operator(args: argparse.Namespace) -> str:
    return args.operator or os.environ.get("HUB_OPERATOR") or getpass.getuser()


def _service(*, publishing: bool = False) -> FailedMessages:
    settings = get_settings()
    db = open_database(settings)
    topology = build_topology(settings, Router.load(settings.routes_file, discover()))
    publisher = None
    if publishing:
        if settings.embedded_broker:
            raise SystemExit(
                "replay needs the broker the hub runs on: set HUB_BROKER_URL to RabbitMQ, "
                "or use the admin API of the running hub (POST /admin/failed/replay)"
            )
        publisher = create_publisher(settings.broker_url, topology, name="hub-operator")
        publisher.start(timeout=15)
    return FailedMessages(FailedStore(db), AuditLog(db), MessageLog(db), topology, publisher, BrokerCodec(db.sealer))


def _filter(args: argparse.Namespace) -> Filter:
    return make_filter(
        system=args.system,
        target=args.target,
        type=args.type,
        error_class=args.error_class,
        group=args.group,
        since=args.since,
        until=args.until,
        state=getattr(args, "state", "failed"),
    )


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", help="source or target system")
    parser.add_argument("--target")
    parser.add_argument("--type", help="canonical message type")
    parser.add_argument("--error-class")
    parser.add_argument("--group", help="group id from `hub failed list`")
    parser.add_argument("--since", help="last failure at or after (ISO 8601, UTC when no offset)")
    parser.add_argument("--until", help="last failure before")


def _list(args: argparse.Namespace) -> int:
    service = _service()
    where = _filter(args)
    if args.messages:
        rows = service.find(where, limit=args.limit)
        if args.json:
            print(to_json([dataclasses.asdict(r) for r in rows]))
            return 0
        for r in rows:
            print(
                f"{r.id:>6}  {r.last_failed_at:%Y-%m-%d %H:%M:%S}  {r.source}->{r.target}  {r.type}  "
                f"{r.error_class}  group {r.group_id}  replays {r.replay_count}  {r.error_message[:100]}"
            )
        return 0
    groups = service.groups(where)
    if args.json:
        print(to_json([dataclasses.asdict(g) for g in groups]))
        return 0
    if not groups:
        print("no failed messages")
        return 0
    header = ("group", "count", "target", "error class", "first failure", "last failure")
    print(
        f"{header[0]:<12}  {header[1]:>6}  {header[2]:<8}  {header[3]:<18}  {header[4]:<19}  {header[5]:<19}  example"
    )
    for g in groups:
        print(
            f"{g.group_id:<12}  {g.count:>6}  {g.target:<8}  {g.error_class:<18}  "
            f"{g.first_failed_at:%Y-%m-%d %H:%M:%S}  {g.last_failed_at:%Y-%m-%d %H:%M:%S}  {g.example[:80]}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    detail = _service().show(args.id)
    if args.json:
        print(to_json(dataclasses.asdict(detail)))
        return 0
    m = detail.message
    print(f"failed message {m.id}: {m.state}")
    print(f"  message id   {m.message_id}\n  receipt      {m.receipt_id}\n  route        {m.source} -> {m.target}")
    print(f"  type         {m.type}\n  error        {m.error_class}: {m.error_message}\n  group        {m.group_id}")
    print(f"  failures     first {m.first_failed_at:%Y-%m-%d %H:%M:%S}, last {m.last_failed_at:%Y-%m-%d %H:%M:%S}")
    print(f"  replays      {m.replay_count}")
    for attempt in m.attempts:
        print(f"    attempt at {attempt.at:%Y-%m-%d %H:%M:%S}: {attempt.error_class}: {attempt.message[:200]}")
    print("envelope:" if detail.envelope else "raw message:")
    print(to_json(detail.envelope) if detail.envelope else detail.raw)
    if detail.source_xml:
        print("original XML:")
        print(detail.source_xml)
    return 0


def _selection(service: FailedMessages, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if args.ids:
        return service.select(args.ids)
    if not (args.group or args.system or args.target or args.type or args.error_class or args.since or args.until):
        raise SystemExit("say which messages: ids, --group, or filters")
    return service.select(where=_filter(args))


def _replay(args: argparse.Namespace) -> int:
    service = _service(publishing=not args.dry_run)
    messages = _selection(service, args)
    outcome = service.replay(
        messages, operator=_operator(args), reason=args.reason, dry_run=args.dry_run, force=args.force
    )
    verb = "would replay" if outcome.dry_run else "replayed"
    print(f"{verb} {len(outcome.replayed)} message(s)" + (f": {outcome.replayed[:20]}" if outcome.replayed else ""))
    for failed_id, why in outcome.skipped.items():
        print(f"skipped {failed_id}: {why}")
    return 0


def _edit(args: argparse.Namespace) -> int:
    service = _service(publishing=not args.no_replay)
    detail = service.show(args.id)
    if detail.envelope is None:
        raise SystemExit("this message is not a hub envelope; it can only be discarded")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=f"hub-failed-{args.id}-", delete=False) as handle:
        handle.write(to_json(detail.envelope["payload"]) + "\n")
        path = Path(handle.name)
    try:
        os.chmod(path, 0o600)
        subprocess.run([*shlex.split(editor), str(path)], check=True)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            print(f"not valid JSON: {exc}", file=sys.stderr)
            return 1
        try:
            outcome = service.edit(
                args.id, payload, operator=_operator(args), reason=args.reason, replay=not args.no_replay
            )
        except ValidationFailed as exc:
            for error in exc.errors:
                print(f"{error.field}: {error.rule}: {error.message}", file=sys.stderr)
            print("not saved: the payload breaks its canonical type", file=sys.stderr)
            return 1
    finally:
        path.unlink(missing_ok=True)
    print("saved" + (f"; replayed {outcome.replayed}" if outcome.replayed else ""))
    for failed_id, why in outcome.skipped.items():
        print(f"not replayed {failed_id}: {why}")
    return 0


def _discard(args: argparse.Namespace) -> int:
    service = _service()
    ids = service.discard(service.select(args.ids), operator=_operator(args), reason=args.reason)
    print(f"discarded {len(ids)} message(s)")
    return 0


def _audit(args: argparse.Namespace) -> int:
    db = open_database(get_settings())
    log = AuditLog(db)
    if args.audit_command == "verify":
        anchors = dict(_anchor(text) for text in args.anchor)
        whole, broken = log.verify(anchors)
        if not whole:
            print(f"audit trail is broken at entry {broken}")
            return 1
        head = log.head()
        print(f"audit trail is whole; its head (an anchor): {head[0]}:{head[1]}" if head else "audit trail is empty")
        return 0
    for e in reversed(log.entries(args.limit)):
        print(f"{e.id:>5}  {e.at:%Y-%m-%d %H:%M:%S}  {e.operator:<16}  {e.action:<8}  {e.subject}  reason: {e.reason}")
    return 0


def _anchor(text: str) -> tuple[int, str]:
    entry, _, digest = text.partition(":")
    if not entry.isdigit() or len(digest) != 64:
        raise SystemExit(f"an anchor is ENTRY:HASH as the hub logs it ('audit chain head'), not {text!r}")
    return int(entry), digest


def _rotate(args: argparse.Namespace) -> int:
    db = open_database(get_settings())
    count = FailedStore(db).rotate_keys()
    AuditLog(db).record(
        operator=_operator(args), action="rotate-key", subject="store", reason=args.reason, details={"values": count}
    )
    print(f"re-sealed {count} stored value(s) with the newest key")
    return 0


def _purge(args: argparse.Namespace) -> int:
    settings = get_settings()
    before = utcnow() - dt.timedelta(days=settings.message_log_retention_days)
    removed = MessageLog(open_database(settings)).purge(before)
    print(f"removed {removed} message log event(s) from before {before:%Y-%m-%d %H:%M} UTC")
    return 0


def _guarded(func):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except NotFound as exc:
            print(str(exc), file=sys.stderr)
            return 1

    return run


def add_commands(commands: argparse._SubParsersAction) -> None:
    failed = commands.add_parser("failed", help="find, inspect, fix, replay and discard failed messages")
    failed.add_argument("--operator", help="who acts (default: HUB_OPERATOR or the login name)")
    sub = failed.add_subparsers(dest="failed_command", required=True)

    listing = sub.add_parser("list", help="failed messages grouped by error, with counts")
    _add_filters(listing)
    listing.add_argument("--state", choices=(*STATES, "all"), default="failed")
    listing.add_argument("--messages", action="store_true", help="one line per message instead of groups")
    listing.add_argument("--limit", type=int, default=200)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_guarded(_list))

    show = sub.add_parser("show", help="one failed message: history, envelope, original XML")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_guarded(_show))

    replay = sub.add_parser("replay", help="send failed messages again, keeping their message ids")
    replay.add_argument("ids", nargs="*", type=int)
    _add_filters(replay)
    replay.add_argument("--reason", default="replayed by an operator")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    replay.add_argument("--force", action="store_true", help="replay quarantined messages too")
    replay.set_defaults(func=_guarded(_replay), state="failed")

    edit = sub.add_parser("edit", help="change a failed message's payload in $EDITOR, then replay it")
    edit.add_argument("id", type=int)
    edit.add_argument("--reason", required=True)
    edit.add_argument("--no-replay", action="store_true")
    edit.set_defaults(func=_guarded(_edit))

    discard = sub.add_parser("discard", help="give up on failed messages, saying why")
    discard.add_argument("ids", nargs="+", type=int)
    discard.add_argument("--reason", required=True)
    discard.set_defaults(func=_guarded(_discard))

    audit = commands.add_parser("audit", help="the operators' audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_list = audit_sub.add_parser("list")
    audit_list.add_argument("--limit", type=int, default=50)
    audit_list.set_defaults(func=_audit)
    verify = audit_sub.add_parser("verify", help="check the hash chain, and that logged heads are still in it")
    verify.add_argument(
        "--anchor", action="append", default=[], metavar="ENTRY:HASH", help="a head the hub logged earlier"
    )
    verify.set_defaults(func=_audit)

    store = commands.add_parser("store", help="the hub's database")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    rotate = store_sub.add_parser("rotate-key", help="re-seal stored payloads with the newest HUB_STORE_KEYS key")
    rotate.add_argument("--operator")
    rotate.add_argument("--reason", default="key rotation")
    rotate.set_defaults(func=_rotate)
    purge = store_sub.add_parser("purge", help="drop message log events older than HUB_MESSAGE_LOG_RETENTION_DAYS")
    purge.set_defaults(func=_purge)
