"""Records the sender may send again as corrections (monthly reports): the second one for the same
record id is revision 2, and the receipt says so."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from hub.broker.message import OutgoingMessage
from hub.canonical import RECORD_TYPES
from hub.envelope import Envelope
from hub.gateway.ingest import Submission
from hub.store.status import StatusStore


def note_corrections(
    store: StatusStore,
    source: str,
    submission: Submission,
    pack: Callable[[Sequence[Envelope]], list[OutgoingMessage]],
) -> tuple[Submission, list[tuple[int, str]]]:
    """The submission with its corrections revised and packed again (`pack`), and the notices."""
    noted = [
        (index, envelope)
        for index, envelope in enumerate(submission.revisable)
        if getattr(RECORD_TYPES.get(envelope.type), "CORRECTIONS_NOTED", False)
    ]
    if not noted:
        return submission, []
    envelopes = list(submission.revisable)
    notices = []
    for type_ in {e.type for _, e in noted}:
        given = store.versions_given(source, type_, [e.payload["record_id"] for _, e in noted if e.type == type_])
        for index, envelope in noted:
            count = given.get(str(envelope.payload["record_id"]), 0)
            if envelope.type != type_ or not count:
                continue
            revised = envelope.model_copy(update={"payload": {**envelope.payload, "revision": count + 1}})
            envelopes[index] = revised
            notices.append(
                (
                    index + 1,
                    f"{envelope.payload['record_id']} was received before: this is correction {count} "
                    f"(revision {count + 1}); the target keeps the latest",
                )
            )
    if not notices:
        return submission, []
    return replace(submission, revisable=envelopes, messages=pack(envelopes)), notices
