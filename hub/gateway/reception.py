"""A request's way in, up to the broker: prepared (parsed, checked, mapped, sealed into bundles) and,
for a data load, staged (its rows stored as pending, or found to be a resend); for a query or a
status question, its MessageID claimed, so that a replayed copy is refused.

Both run where the load is prepared, a gateway thread or a process of the gateway's pool, so that
the gateway's own process keeps only publishing, the receipt's row and HTTP: staging a load's rows
costs about as much CPU as the rest of what that process does for it. The receipt is built there too
and sent by the gateway only once the broker confirmed: its hundred Record elements cost the gateway's
process about 0.2 ms a load, and the load's rows then need not cross back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from hub.envelope import Envelope, utcnow
from hub.errors import HubError, ValidationFailed
from hub.gateway.corrections import note_corrections
from hub.gateway.ingest import Handler, Ingest, Query, StatusQuery, Submission
from hub.gateway.responses import receipt_element
from hub.soap import MessageHeader, build_envelope
from hub.soap.header import HEADER_PATH
from hub.soap.signature import Signer
from hub.store.message_ids import UsedMessageIds
from hub.store.status import Receipt, StatusStore


@dataclass(frozen=True)
class Staged:
    """A data load stored as pending and waiting for the broker's confirm of its messages, or a
    resend of one the hub already holds (`resend`); `answer` is the SOAP response with its receipt."""

    submission: Submission
    receipt: Receipt
    answer: bytes
    resend: bool = False

    @property
    def header(self) -> MessageHeader:
        return self.submission.header

    @property
    def handler(self) -> Handler:
        return self.submission.handler

    def portable(self) -> Staged:
        """Without what only staging and the answer needed (the request, the envelopes of corrections,
        the rows): what crosses back from another process."""
        return replace(
            self,
            submission=replace(self.submission, request=b"", revisable=[], rows=[]),
            receipt=replace(self.receipt, records=(), notices=()),
        )


Received = Staged | StatusQuery | Query


def _message_id_reused() -> ValidationFailed:
    return ValidationFailed.single(
        f"{HEADER_PATH}/MessageID",
        "message-id-reuse",
        "this MessageID was already used for a different message",
    )


@dataclass(frozen=True)
class Reception:
    ingest: Ingest
    store: StatusStore
    used: UsedMessageIds
    signer: Signer | None = None  # the hub's own: receipts are signed answers

    def __call__(self, system: str, data: bytes) -> Received:
        prepared = self.ingest.prepare(system, data)
        if isinstance(prepared, Submission):
            return self.stage(system, prepared)
        self.claim(system, prepared)
        return prepared

    def claim(self, system: str, question: StatusQuery | Query) -> None:
        """Take the question's MessageID for good: the same signed question again is a replay."""
        until = utcnow() + self.ingest.replay_window
        if not self.used.claim(system, str(question.header.message_id), until):
            refusal = ValidationFailed.single(
                f"{HEADER_PATH}/MessageID",
                "message-id-replayed",
                "this MessageID was already used: each query or status question needs a new one "
                "(a data load is sent again under its own, and gets its receipt again)",
            )
            refusal.header = question.header
            raise refusal

    def stage(self, system: str, submission: Submission) -> Staged:
        try:
            return self._stage(system, submission)
        except HubError as exc:
            exc.header, exc.operation = submission.header, submission.handler.name
            raise

    def _stage(self, system: str, submission: Submission) -> Staged:
        given = self.store.find_receipt(submission.receipt_id)
        if given is not None:
            if given.body_sha256 != submission.body_sha256 or given.source != system:
                raise _message_id_reused()
            return self._answered(submission, given, resend=True)
        stored = self.store.pending_ids(submission.receipt_id)
        if stored and stored != [row.message_id for row in submission.rows]:
            submission = self._with_ids(submission, stored)
        now = utcnow()
        submission, notices = note_corrections(self.store, system, submission, self.ingest.messages)
        self.store.add_pending(submission.receipt_id, system, submission.rows, now, submission.request)
        receipt = Receipt(
            receipt_id=submission.receipt_id,
            source=system,
            operation=submission.handler.name,
            body_sha256=submission.body_sha256,
            record_count=len(submission.rows),
            accepted_at=now,
            records=tuple(submission.rows),
            notices=tuple(notices),
        )
        return self._answered(submission, receipt, resend=False)

    def _answered(self, submission: Submission, receipt: Receipt, *, resend: bool) -> Staged:
        answer = build_envelope(receipt_element(receipt), submission.header, self.signer)
        return Staged(submission, receipt, answer, resend)

    def _with_ids(self, submission: Submission, stored: list[str]) -> Submission:
        """The load with the ids its rows were stored with, by an earlier release's rule: a resend of a
        load never given a receipt may have reached its targets already, which know it by those ids."""
        if len(stored) != len(submission.rows):
            raise _message_id_reused()
        ids = {row.message_id: stored[row.record_index - 1] for row in submission.rows}

        def renamed(envelope: Envelope) -> Envelope:
            return envelope.model_copy(update={"message_id": uuid.UUID(ids[str(envelope.message_id)])})

        codec = self.ingest.codec
        envelopes = [renamed(e) for message in submission.messages for e in codec.envelopes(message.body)]
        return replace(
            submission,
            rows=[replace(row, message_id=ids[row.message_id]) for row in submission.rows],
            messages=self.ingest.messages(envelopes),
            revisable=[renamed(e) for e in submission.revisable],
        )
