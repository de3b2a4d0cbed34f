"""Records the sender may send again as corrections (monthly reports): the second one for the same
record id is revision 2, and the receipt says so."""

from __future__ import annotations

from hub.envelope import EnvelopeFields
from hub.store.status import StatusStore


def revise_corrections(
    store: StatusStore, source: str, envelopes: list[EnvelopeFields]
) -> tuple[list[EnvelopeFields], list[tuple[int, str]]]:
    """The envelopes with each correction's revision set, and a notice for each (its record's index)."""
    noted = [(index, e) for index, e in enumerate(envelopes) if type(e["payload"]).CORRECTIONS_NOTED]
    revised, notices = list(envelopes), []
    for type_ in sorted({e["type"] for _, e in noted}):
        of_type = [(index, e) for index, e in noted if e["type"] == type_]
        given = store.versions_given(source, type_, [e["payload"].record_id for _, e in of_type])
        for index, envelope in of_type:
            record = envelope["payload"]
            count = given.get(record.record_id, 0)
            if not count:
                continue
            revised[index] = {**envelope, "payload": record.model_copy(update={"revision": count + 1})}
            notices.append(
                (
                    index + 1,
                    f"{record.record_id} was received before: this is correction {count} "
                    f"(revision {count + 1}); the target keeps the latest",
                )
            )
    return revised, sorted(notices)
