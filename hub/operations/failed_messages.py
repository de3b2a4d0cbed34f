"""What operators do with failed messages: find, inspect, fix, replay, discard. The `hub failed`
commands and the JSON admin API are two faces of this one module; every action is audited, and so is
every look at a stored message (its envelope and original XML hold a person's data). Lists are not:
they show ids, classes and reasons, whose person codes the stores already turned into pseudonyms.

A replay republishes the stored envelope with its own message id, so a target that already
has it cannot take it twice; the message leaves the failed list only after the broker confirmed
the republished copy. A message replayed `max_replays` times is quarantined: it is replayed
again only when forced.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hub import metrics
from hub.broker.broker import Publisher
from hub.broker.codec import BrokerCodec
from hub.broker.headers import REPLAYS
from hub.broker.topology import Topology
from hub.canonical import record_from_payload
from hub.canonical.mapping import field_error
from hub.envelope import Envelope, utcnow
from hub.errors import ValidationFailed
from hub.store.audit import AuditEntry, AuditLog
from hub.store.failed import FailedGroup, FailedMessage, FailedState, FailedStore, Filter
from hub.store.message_log import MessageLog

REPLAY_CHUNK = 500
CONFIRM_TIMEOUT_SECONDS = 60.0


DELETED = "its payload was deleted after the retention period (HUB_PAYLOAD_RETENTION_DAYS); ask the sender again"


@dataclass(frozen=True)
class Detail:
    message: FailedMessage
    envelope: dict[str, Any] | None
    raw: str | None
    source_xml: str | None


@dataclass
class ReplayOutcome:
    replayed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    dry_run: bool = False


class NotFound(LookupError):
    pass


class FailedMessages:
    def __init__(
        self,
        failed: FailedStore,
        audit: AuditLog,
        message_log: MessageLog,
        topology: Topology,
        publisher: Publisher | None,
        codec: BrokerCodec,
        *,
        max_replays: int = 5,
    ) -> None:
        self.failed = failed
        self.codec = codec
        self.audit = audit
        self.message_log = message_log
        self.topology = topology
        self.publisher = publisher
        self.max_replays = max_replays

    def groups(self, where: Filter) -> list[FailedGroup]:
        return self.failed.groups(where)

    def find(self, where: Filter, limit: int = 1000, after: int | None = None) -> list[FailedMessage]:
        return self.failed.find(where, limit=limit, after=after)

    def show(self, failed_id: int, *, operator: str, where: str, codes_in_clear: bool = True) -> Detail:
        """One entry with its envelope and original XML, for `operator` to see: personal data, so the
        audit trail records who saw which entry, when, and `where` (the command or call that showed
        it) before anything is returned. `codes_in_clear` False: the caller shows person codes as
        pseudonyms (the console until its operator presses reveal), which the entry says."""
        message = self._entry(failed_id)
        envelope, raw = self.failed.envelope(failed_id)
        xml = self.failed.source_xml(failed_id)
        shown = [part for part, there in (("envelope", envelope), ("raw", not envelope and raw), ("xml", xml)) if there]
        self.audit.record(
            operator=operator,
            action="view",
            subject=str(failed_id),
            reason=where,
            details={
                "message_id": message.message_id,
                "receipt_id": message.receipt_id,
                "shown": shown,
                "person_codes": "in clear" if codes_in_clear else "as pseudonyms",
            },
        )
        return Detail(
            message,
            envelope.model_dump(mode="json") if envelope else None,
            None if envelope else raw.decode("utf-8", "replace") or DELETED,
            xml.decode("utf-8") if xml else None,
        )

    def payload_of(self, failed_id: int) -> dict[str, Any] | None:
        """The record an edit starts from, to read a form's fields back in their types; None when the
        entry holds no envelope. Not a view: nothing of it is shown (the edit is audited)."""
        self._entry(failed_id)
        envelope, _ = self.failed.envelope(failed_id)
        return envelope.model_dump(mode="json")["payload"] if envelope else None

    def _entry(self, failed_id: int) -> FailedMessage:
        found = self.failed.get([failed_id])
        if not found:
            raise NotFound(f"no failed message {failed_id}")
        return found[0]

    def select(self, ids: Sequence[int] = (), where: Filter | None = None) -> list[FailedMessage]:
        if ids:
            found = self.failed.get(ids)
            missing = set(ids) - {m.id for m in found}
            if missing:
                raise NotFound(f"no failed message {', '.join(map(str, sorted(missing)))}")
            return found
        if where is None:
            raise ValueError("say which messages: ids, a group or a filter")
        return self.failed.find(where, limit=1_000_000)

    def replay(
        self,
        messages: Sequence[FailedMessage],
        *,
        operator: str,
        reason: str,
        dry_run: bool = False,
        force: bool = False,
    ) -> ReplayOutcome:
        outcome = ReplayOutcome(dry_run=dry_run)
        ready: list[tuple[FailedMessage, Envelope]] = []
        for message in messages:
            if message.state != FailedState.FAILED:
                outcome.skipped[message.id] = f"it is {message.state}, not failed"
                continue
            if message.replay_count >= self.max_replays and not force:
                outcome.skipped[message.id] = f"quarantined after {message.replay_count} replays; force to replay"
                continue
            envelope, raw = self.failed.envelope(message.id)
            if envelope is None:
                outcome.skipped[message.id] = DELETED if not raw else "not a hub envelope; it can only be discarded"
                continue
            ready.append((message, envelope))
        if dry_run:
            outcome.replayed = [m.id for m, _ in ready]
            return outcome
        if ready and self.publisher is None:
            raise RuntimeError("replaying needs the broker; no publisher is configured")
        for start in range(0, len(ready), REPLAY_CHUNK):
            chunk = ready[start : start + REPLAY_CHUNK]
            outgoing = [
                self.codec.message(
                    envelope,
                    self.topology.delivery_exchange,
                    envelope.target,
                    {REPLAYS: message.replay_count + 1},
                )
                for message, envelope in chunk
            ]
            assert self.publisher is not None
            self.publisher.publish(outgoing).result(timeout=CONFIRM_TIMEOUT_SECONDS)
            ids = [m.id for m, _ in chunk]
            self.failed.mark_replayed(ids, utcnow())
            outcome.replayed += ids
            self.message_log.record(
                (m.message_id, "replayed", {"operator": operator, "reason": reason, "replay": m.replay_count + 1})
                for m, _ in chunk
            )
            for message, _ in chunk:
                metrics.replays.labels(message.target).inc()
        if outcome.replayed:
            self.audit.record(
                operator=operator,
                action="replay",
                subject=_subject(outcome.replayed),
                reason=reason,
                details={"ids": outcome.replayed, "skipped": outcome.skipped, "forced": force},
            )
        return outcome

    def edit(
        self, failed_id: int, payload: dict[str, Any], *, operator: str, reason: str, replay: bool = True
    ) -> ReplayOutcome:
        """Replace a failed message's payload after checking it against its canonical type again."""
        message = self._entry(failed_id)
        envelope, raw = self.failed.envelope(failed_id)
        if envelope is None:
            raise ValidationFailed.single(
                "envelope", "not-an-envelope", DELETED if not raw else "this message has no payload to edit"
            )
        try:
            record = record_from_payload(envelope.type, payload)
        except ValidationError as exc:
            raise ValidationFailed(
                [field_error(e, at="payload", fields={}, line=None) for e in exc.errors(include_url=False)]
            ) from None
        edited = envelope.model_copy(update={"payload": record.model_dump(mode="json")})
        self.failed.replace_envelope(failed_id, edited, utcnow())
        changed = sorted(k for k in set(payload) | set(envelope.payload) if payload.get(k) != envelope.payload.get(k))
        self.message_log.record([(message.message_id, "edited", {"operator": operator, "fields": changed})])
        self.audit.record(
            operator=operator,
            action="edit",
            subject=str(failed_id),
            reason=reason,
            details={"message_id": message.message_id, "fields_changed": changed},
        )
        if not replay:
            return ReplayOutcome()
        return self.replay(self.failed.get([failed_id]), operator=operator, reason=f"after edit: {reason}")

    def discard(self, messages: Sequence[FailedMessage], *, operator: str, reason: str) -> list[int]:
        if not reason.strip():
            raise ValueError("a discard needs a reason")
        ids = [m.id for m in messages if m.state == FailedState.FAILED]
        if ids:
            self.failed.mark_discarded(ids, utcnow())
            self.message_log.record(
                (m.message_id, "discarded", {"operator": operator, "reason": reason})
                for m in messages
                if m.state == FailedState.FAILED
            )
            self.audit.record(
                operator=operator, action="discard", subject=_subject(ids), reason=reason, details={"ids": ids}
            )
        return ids

    def audit_entries(self, limit: int = 100, search: str | None = None) -> list[AuditEntry]:
        return self.audit.entries(limit, search=search)


def _subject(ids: Sequence[int]) -> str:
    text = ",".join(map(str, ids[:50]))
    return text + (f",… ({len(ids)} in all)" if len(ids) > 50 else "")


STATES = tuple(state.value for state in FailedState)


def make_filter(
    *,
    system: str | None = None,
    target: str | None = None,
    type: str | None = None,
    error_class: str | None = None,
    group: str | None = None,
    since: str | None = None,
    until: str | None = None,
    state: str = FailedState.FAILED,
) -> Filter:
    """A filter from what operators type: times as ISO 8601, `state` one of STATES or "all"."""
    if state != "all" and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)} or all")
    return Filter(
        system=system,
        target=target,
        type=type,
        error_class=error_class,
        group_id=group,
        since=parse_time(since),
        until=parse_time(until),
        states=STATES if state == "all" else (state,),
    )


def parse_time(value: str | None) -> dt.datetime | None:
    """ISO 8601, date or date-time; naive means UTC."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
