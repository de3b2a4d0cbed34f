"""A query's or status question's MessageID is used once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

from hub.store.message_ids import UsedMessageIds


def test_a_query_s_message_id_is_used_once_on_either_database(database):
    used, until = UsedMessageIds(database), dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    message_id = str(uuid.uuid4())
    assert used.claim("sopa", message_id, until)
    assert not used.claim("sopa", message_id, until)
    assert used.claim("lietis", message_id, until)  # another sender's ids are its own
