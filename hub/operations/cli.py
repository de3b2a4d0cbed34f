"""`hub failed …`, `hub audit …`, `hub store …`: the operators' commands, on hub.operations.failed_messages."""

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

from hub.broker.broker import COMMAND_WAIT_SECONDS, Publisher
from hub.envelope import utcnow
from hub.errors import BrokerUnavailable, ValidationFailed
from hub.exits import NO, UNAVAILABLE, CommandFailed, broker_address
from hub.operations.failed_messages import STATES, FailedMessages, NotFound, ReplayOutcome, make_filter, to_json
from hub.runtime import Components, build
from hub.settings import get_settings
from hub.store.audit import Verdict
from hub.store.failed import Filter


def _operator(args: argparse.Namespace) -> str:
    return args.operator or os.environ.get("HUB_OPERATOR") or getpass.getuser()


def _parts() -> Components:
    """The hub's parts as the operators' commands use them: its store and keys opened, never made."""
    return build(get_settings(), create=False)


def _service() -> FailedMessages:
    return _parts().operators(None)


def _can_replay(parts: Components) -> None:
    """Refused before anything is done: a replay from here needs the broker the hub runs on."""
    if not parts.broker.capabilities.outlives_the_process:
        raise CommandFailed(
            "replay needs the broker the hub runs on: set HUB_BROKER_URL to RabbitMQ, "
            "or the console or JSON API of the running hub (POST /api/failed/replay on HUB_ADMIN_PORT)"
        )


def _publisher(parts: Components) -> Publisher:
    """A publisher on the hub's broker, connected; BrokerUnavailable within seconds when it is away."""
    parts.broker.check()
    publisher = parts.broker.publisher(parts.topology, name="hub-operator")
    publisher.start(timeout=COMMAND_WAIT_SECONDS)
    return publisher


def _filter(args: argparse.Namespace) -> Filter:
    try:
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
    except ValueError as exc:
        raise CommandFailed(f"{exc} (--since and --until take ISO 8601, e.g. 2026-11-01 or 2026-11-01T08:00)") from None


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", help="source or target system")
    parser.add_argument("--target", help="target system")
    parser.add_argument("--type", help="canonical message type")
    parser.add_argument("--error-class", help="e.g. target_rejected, poison (docs/reliability.md lists them)")
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
    detail = _service().show(args.id, operator=_operator(args), where="hub failed show")
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
        raise CommandFailed("say which messages: ids, --group, or filters")
    return service.select(where=_filter(args))


def _replay(args: argparse.Namespace) -> int:
    parts = _parts()
    if not args.dry_run:
        _can_replay(parts)
    messages = _selection(parts.operators(None), args)
    publisher = None if args.dry_run else _publisher(parts)
    try:
        outcome = parts.operators(publisher).replay(
            messages, operator=_operator(args), reason=args.reason, dry_run=args.dry_run, force=args.force
        )
    finally:
        if publisher is not None:
            publisher.close()
    verb = "would replay" if outcome.dry_run else "replayed"
    print(f"{verb} {len(outcome.replayed)} message(s)" + (f": {outcome.replayed[:20]}" if outcome.replayed else ""))
    for failed_id, why in outcome.skipped.items():
        print(f"skipped {failed_id}: {why}")
    return 0


def _edit(args: argparse.Namespace) -> int:
    """The payload in the operator's editor, checked and saved, then replayed: the broker is needed (and
    connected to) only once the edit is saved, so its absence never costs the operator the edit."""
    parts = _parts()
    if not args.no_replay:
        _can_replay(parts)
    service = parts.operators(None)
    detail = service.show(args.id, operator=_operator(args), where="hub failed edit")
    if detail.envelope is None:
        raise CommandFailed("this message is not a hub envelope; it can only be discarded")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=f"hub-failed-{args.id}-", delete=False) as handle:
        handle.write(to_json(detail.envelope["payload"]) + "\n")
        path = Path(handle.name)
    try:
        os.chmod(path, 0o600)
        try:
            subprocess.run([*shlex.split(editor), str(path)], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            why = f"ended with status {exc.returncode}" if isinstance(exc, subprocess.CalledProcessError) else exc
            raise CommandFailed(f"not saved: the editor {editor!r} {why} (VISUAL or EDITOR names it)") from None
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            print(f"not valid JSON: {exc}", file=sys.stderr)
            return 1
        try:
            outcome = service.edit(args.id, payload, operator=_operator(args), reason=args.reason, replay=False)
        except ValidationFailed as exc:
            for error in exc.errors:
                print(f"{error.field}: {error.rule}: {error.message}", file=sys.stderr)
            print("not saved: the payload breaks its canonical type", file=sys.stderr)
            return 1
    finally:
        path.unlink(missing_ok=True)
    if not args.no_replay:
        outcome = _replay_edited(parts, args)
    print("saved" + (f"; replayed {outcome.replayed}" if outcome.replayed else ""))
    for failed_id, why in outcome.skipped.items():
        print(f"not replayed {failed_id}: {why}")
    return 0


def _replay_edited(parts: Components, args: argparse.Namespace) -> ReplayOutcome:
    try:
        publisher = _publisher(parts)
    except BrokerUnavailable as exc:
        raise CommandFailed(
            f"saved, not replayed ({exc}): replay it with `hub failed replay {args.id}` once the broker at "
            f"HUB_BROKER_URL ({broker_address()}) answers",
            UNAVAILABLE,
        ) from exc
    try:
        service = parts.operators(publisher)
        return service.replay(service.select([args.id]), operator=_operator(args), reason=f"after edit: {args.reason}")
    finally:
        publisher.close()


def _discard(args: argparse.Namespace) -> int:
    service = _service()
    ids = service.discard(service.select(args.ids), operator=_operator(args), reason=args.reason)
    print(f"discarded {len(ids)} message(s)")
    return 0


def _audit(args: argparse.Namespace) -> int:
    parts = _parts()
    if args.audit_command == "verify":
        return _verify(args, parts)
    for e in reversed(parts.audit.entries(args.limit)):
        print(f"{e.id:>5}  {e.at:%Y-%m-%d %H:%M:%S}  {e.operator:<16}  {e.action:<8}  {e.subject}  reason: {e.reason}")
    return 0


def _verify(args: argparse.Namespace, parts: Components) -> int:
    settings = parts.settings
    log = parts.audit
    named = [Path(p) for p in args.checkpoints]
    for path in named:
        if not path.is_file():
            raise CommandFailed(f"no checkpoint file {path}")
    files = named or [settings.audit_checkpoint_file]  # the hub's own may not exist yet: no checkpoint so far
    verdict = log.verify(dict(_anchor(text) for text in args.anchor), files)
    for why in verdict.forged:
        print(f"forged checkpoint: {why}")
    if verdict.broken_at is not None:
        print(f"audit trail is broken at entry {verdict.broken_at:,}: {verdict.why}")
    elif verdict.forged:
        print(
            f"audit trail is not to be trusted: {len(verdict.forged)} checkpoint line(s) forged; {_coverage(verdict)}"
        )
    elif verdict.entries:
        print(f"audit trail is whole: {_coverage(verdict)}")
    else:
        print("audit trail is empty")
    anchors = f" and {verdict.anchors} anchor(s)" if verdict.anchors else ""
    print(f"checked against {verdict.checkpoints:,} checkpoint(s) from {', '.join(map(str, files))}{anchors}")
    return 0 if verdict.whole else 1


def _coverage(verdict: Verdict) -> str:
    latest = verdict.latest
    if latest is None:
        return f"{_entries(verdict.entries)}, no checkpoint yet: all are covered by the keyed chain only"
    return (
        f"{_entries(verdict.entries)}, the latest checkpoint (entry {latest.entry:,} at {latest.when()}) holds; "
        f"{_entries(verdict.after_latest)} after it {'is' if verdict.after_latest == 1 else 'are'} covered by "
        "the keyed chain only"
    )


def _entries(count: int) -> str:
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def _anchor(text: str) -> tuple[int, str]:
    entry, _, digest = text.partition(":")
    if not entry.isdigit() or len(digest) != 64:
        raise CommandFailed(f"an anchor is ENTRY:HASH (a checkpoint's entry and hash), not {text!r}")
    return int(entry), digest


def _rotate(args: argparse.Namespace) -> int:
    parts = _parts()
    count = parts.failed.rotate_keys()
    parts.audit.record(
        operator=_operator(args), action="rotate-key", subject="store", reason=args.reason, details={"values": count}
    )
    print(f"re-sealed {count} stored value(s) with the newest key")
    return 0


def _purge(args: argparse.Namespace) -> int:
    parts = _parts()
    before = utcnow() - dt.timedelta(days=parts.settings.message_log_retention_days)
    removed = parts.message_log.purge(before)
    print(f"removed {removed} message log event(s) from before {before:%Y-%m-%d %H:%M} UTC")
    return 0


def _guarded(func):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except NotFound as exc:
            raise CommandFailed(str(exc), NO) from None

    return run


def add_commands(commands: argparse._SubParsersAction) -> None:
    failed = commands.add_parser("failed", help="find, inspect, fix, replay and discard failed messages")
    failed.add_argument("--operator", help="who acts (default: HUB_OPERATOR or the login name)")
    sub = failed.add_subparsers(dest="failed_command", required=True)

    listing = sub.add_parser("list", help="failed messages grouped by error, with counts")
    _add_filters(listing)
    listing.add_argument(
        "--state",
        choices=(*STATES, "all"),
        default="failed",
        help="failed: waiting for an operator; replayed, discarded, resolved: dealt with",
    )
    listing.add_argument("--messages", action="store_true", help="one line per message instead of groups")
    listing.add_argument("--limit", type=int, default=200, help="most lines printed")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing.set_defaults(func=_guarded(_list))

    show = sub.add_parser("show", help="one failed message: history, envelope, original XML (audited)")
    show.add_argument("id", type=int, help="the failed message's number, from `hub failed list --messages`")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_guarded(_show))

    replay = sub.add_parser("replay", help="send failed messages again, keeping their message ids")
    replay.add_argument("ids", nargs="*", type=int, help="failed messages' numbers; or choose them with the filters")
    _add_filters(replay)
    replay.add_argument("--reason", default="replayed by an operator", help="why, for the audit trail")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    replay.add_argument("--force", action="store_true", help="replay quarantined messages too")
    replay.set_defaults(func=_guarded(_replay), state="failed")

    edit = sub.add_parser("edit", help="change a failed message's payload in $EDITOR, then replay it")
    edit.add_argument("id", type=int, help="the failed message's number")
    edit.add_argument("--reason", required=True, help="why, for the audit trail (required)")
    edit.add_argument("--no-replay", action="store_true", help="keep the edited payload in the store, replay later")
    edit.set_defaults(func=_guarded(_edit))

    discard = sub.add_parser("discard", help="give up on failed messages, saying why")
    discard.add_argument("ids", nargs="+", type=int, help="failed messages' numbers")
    discard.add_argument("--reason", required=True, help="why they must never arrive, for the audit trail (required)")
    discard.set_defaults(func=_guarded(_discard))

    audit = commands.add_parser("audit", help="the operators' audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_list = audit_sub.add_parser("list", help="the latest entries: who did what, when, why")
    audit_list.add_argument("--limit", type=int, default=50, help="most entries printed")
    audit_list.set_defaults(func=_audit)
    verify = audit_sub.add_parser("verify", help="check the keyed hash chain against its signed checkpoints")
    verify.add_argument(
        "--checkpoints",
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint file (repeatable; default HUB_AUDIT_CHECKPOINT_FILE), e.g. a copy kept elsewhere",
    )
    verify.add_argument(
        "--anchor", action="append", default=[], metavar="ENTRY:HASH", help="an entry's hash known from elsewhere"
    )
    verify.set_defaults(func=_audit)

    store = commands.add_parser("store", help="the hub's database")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    rotate = store_sub.add_parser("rotate-key", help="re-seal stored payloads with the newest HUB_STORE_KEYS key")
    rotate.add_argument("--operator", help="who acts (default: HUB_OPERATOR or the login name)")
    rotate.add_argument("--reason", default="key rotation", help="why, for the audit trail")
    rotate.set_defaults(func=_rotate)
    purge = store_sub.add_parser("purge", help="drop message log events older than HUB_MESSAGE_LOG_RETENTION_DAYS")
    purge.set_defaults(func=_purge)
