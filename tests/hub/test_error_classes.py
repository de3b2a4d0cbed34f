"""The database not answering is an error that passes, and a partner is told so without its details."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError

from hub.errors import BrokerUnavailable, classify
from hub.soap.faults import fault_from_error

LOST = OperationalError(
    "UPDATE message_status SET status=%(status)s WHERE message_id IN (...)",
    {"status": "delivered"},
    Exception('connection to server at "db.internal" (10.0.0.5), port 5432 failed: Connection refused'),
)


def test_a_store_that_does_not_answer_passes():
    assert classify(LOST) == ("store_unavailable", False)


def test_a_broken_constraint_is_no_outage():
    assert classify(IntegrityError("INSERT ...", {}, Exception("duplicate key"))) == ("internal", True)


def test_the_partner_is_told_to_retry_without_the_driver_s_text():
    fault = fault_from_error(LOST)
    assert (fault.code, fault.retry, fault.error_class) == ("Server", True, "store_unavailable")
    assert fault.string == "temporarily unavailable, retry later: store unavailable"
    assert "db.internal" not in fault.string and "UPDATE" not in fault.string


def test_the_hub_s_own_transient_errors_keep_their_words():
    fault = fault_from_error(BrokerUnavailable("the broker did not confirm within 10 s"))
    assert fault.string == "temporarily unavailable, retry later: the broker did not confirm within 10 s"
