"""Taking a request in, up to the broker, in one pass: read it; for a data load, claim its receipt id
(one request per MessageID stages and publishes it, whatever the concurrency), then stage it (decide
its records' ids and revisions, store their rows as pending, seal them into one bundle per target,
build and sign the receipt); for a query or a status question, claim its MessageID, so that a
replayed copy is refused. The gateway then publishes what was staged and answers.

All of it runs where the load is taken, a gateway thread or a process of the gateway's pool, so that
the gateway's own process keeps only publishing, the receipt's row and HTTP; what crosses back is a
few sealed bundles and the answer, not an object per record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, replace

from hub.broker.codec import BrokerCodec
from hub.broker.message import OutgoingMessage
from hub.broker.topology import Topology
from hub.envelope import EnvelopeFields, utcnow
from hub.errors import BrokerUnavailable, ValidationFailed
from hub.gateway.corrections import revise_corrections
from hub.gateway.reader import Load, Query, Reader, RequestContext, StatusQuestion
from hub.gateway.responses import receipt_element
from hub.soap import MessageHeader, build_envelope
from hub.soap.faults import fault_from_record, fault_record
from hub.soap.header import HEADER_PATH
from hub.soap.signature import Signer
from hub.store.claims import Claimed
from hub.store.message_ids import UsedMessageIds
from hub.store.status import Receipt, StatusStore


@dataclass(frozen=True)
class Staged:
    """A data load stored as pending, its messages sealed and waiting to be published, or a resend of
    one the hub already holds (`resend`); `answer` is the SOAP response with its signed receipt."""

    header: MessageHeader
    receipt: Receipt
    messages: list[OutgoingMessage]
    answer: bytes
    received: dict[tuple[str, str], int]  # records per (flow, type), for the received counter
    holder: str = ""  # its claim on the receipt id, "" for a resend
    resend: bool = False


@dataclass(frozen=True)
class Copy:
    """A load another request is giving its receipt right now: this one waits for that outcome."""

    header: MessageHeader
    receipt_id: str
    body_sha256: str


Taken = Staged | Copy | Query | StatusQuestion


def _message_id_reused() -> ValidationFailed:
    return ValidationFailed.single(
        f"{HEADER_PATH}/MessageID",
        "message-id-reuse",
        "this MessageID was already used for a different message",
    )


def _check_same_load(given: Receipt, body_sha256: str, sender: str) -> None:
    """A receipt answers a resend of its own load only: another body under its MessageID is refused."""
    if given.body_sha256 != body_sha256 or given.source != sender:
        raise _message_id_reused()


@dataclass(frozen=True)
class Reception:
    reader: Reader
    store: StatusStore
    used: UsedMessageIds
    codec: BrokerCodec
    topology: Topology
    signer: Signer | None = None  # the hub's own: receipts are signed answers
    stale_claim: dt.timedelta = dt.timedelta(seconds=20)  # a holder this quiet died mid-request

    def take(self, context: RequestContext, data: bytes) -> Taken:
        read = self.reader.read(context, data)
        if isinstance(read, Load):
            return self.stage(read)
        self.claim(context, read)
        return read

    def claim(self, context: RequestContext, question: Query | StatusQuestion) -> None:
        """Take the question's MessageID for good: the same signed question again is a replay."""
        until = utcnow() + self.reader.replay_window
        if not self.used.claim(context.system, str(question.header.message_id), until):
            raise ValidationFailed.single(
                f"{HEADER_PATH}/MessageID",
                "message-id-replayed",
                "this MessageID was already used: each query or status question needs a new one "
                "(a data load is sent again under its own, and gets its receipt again)",
            )

    def stage(self, load: Load) -> Staged | Copy:
        """The claim comes first: a load given its receipt holds no claim (the receipt ended it), so a
        resend claims it too, and then finds the receipt; a new load looks at the store once."""
        holder = str(uuid.uuid4())
        claimed = self.store.claims.claim(
            load.receipt_id, load.header.sender, load.body_sha256, holder, utcnow(), self.stale_claim
        )
        if claimed is Claimed.OTHER_BODY:
            raise _message_id_reused()
        if claimed is Claimed.HELD:
            return Copy(load.header, load.receipt_id, load.body_sha256)
        given = self.store.given_or_pending(load.receipt_id)
        if isinstance(given, Receipt):
            self.store.claims.release(load.receipt_id, holder)
            return self._resent(load, given)
        try:
            return self._staged_anew(load, holder, given)
        except Exception as exc:
            self.store.discard_pending(load.receipt_id, holder, fault_record(exc))
            raise

    def answer_for(self, copy: Copy) -> bytes | None:
        """The answer a copy gives once its holder is done: the same receipt (signed for this copy's
        header) or the same Fault (raised); None while the holder is still at work. The claim is read
        first: the holder gives the receipt and ends the claim in one transaction, so a claim found
        ended means the receipt, if any, is there to read."""
        outcome = self.store.claims.outcome(copy.receipt_id)
        if outcome.held:
            return None
        if outcome.fault is not None:
            raise fault_from_record(outcome.fault)
        given = self.store.find_receipt(copy.receipt_id)
        if given is None:
            raise BrokerUnavailable("another copy of this load was being taken and ended without an answer")
        _check_same_load(given, copy.body_sha256, copy.header.sender)
        return build_envelope(receipt_element(given), copy.header, self.signer)

    def _resent(self, load: Load, given: Receipt) -> Staged:
        _check_same_load(given, load.body_sha256, load.header.sender)
        return self._staged(load, given, [], {}, resend=True)

    def _staged_anew(self, load: Load, holder: str, stored_ids: list[str]) -> Staged:
        source = load.header.sender
        load = self._with_stored_ids(load, stored_ids)
        envelopes, notices = load.envelopes, []
        if load.notes_corrections:
            envelopes, notices = revise_corrections(self.store, source, envelopes)
        now = utcnow()
        self.store.add_pending(load.receipt_id, source, load.rows, now, load.request)
        receipt = Receipt(
            receipt_id=load.receipt_id,
            source=source,
            operation=load.operation,
            body_sha256=load.body_sha256,
            record_count=len(load.rows),
            accepted_at=now,
            records=tuple(load.rows),
            notices=tuple(notices),
        )
        received = Counter((e["flow"], e["type"]) for e in envelopes)
        return self._staged(load, receipt, self._bundles(envelopes), dict(received), holder=holder)

    def _staged(
        self,
        load: Load,
        receipt: Receipt,
        messages: list[OutgoingMessage],
        received: dict[tuple[str, str], int],
        *,
        holder: str = "",
        resend: bool = False,
    ) -> Staged:
        answer = build_envelope(receipt_element(receipt), load.header, self.signer)
        # what crosses back from a pool process: the receipt's rows were needed for its answer only
        slim = replace(receipt, records=(), notices=())
        return Staged(load.header, slim, messages, answer, received, holder, resend)

    @staticmethod
    def _with_stored_ids(load: Load, stored: list[str]) -> Load:
        """The load with the ids its rows were stored with, by an earlier release's rule: a resend of a
        load never given a receipt may have reached its targets already, which know it by those ids."""
        if not stored or stored == [row.message_id for row in load.rows]:
            return load
        if len(stored) != len(load.rows):
            raise _message_id_reused()
        return replace(
            load,
            rows=[replace(row, message_id=stored[row.record_index - 1]) for row in load.rows],
            envelopes=[
                {**envelope, "message_id": uuid.UUID(stored[index])} for index, envelope in enumerate(load.envelopes)
            ],
        )

    def _bundles(self, envelopes: list[EnvelopeFields]) -> list[OutgoingMessage]:
        """What a load publishes, sealed once: one bundle for each target its records go to."""
        by_target: dict[str, list[EnvelopeFields]] = {}
        for envelope in envelopes:
            by_target.setdefault(envelope["target"], []).append(envelope)
        exchange = self.topology.delivery_exchange
        return [self.codec.bundle(group, exchange, target) for target, group in by_target.items()]
