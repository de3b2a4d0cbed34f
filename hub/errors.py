"""Every error the hub raises on purpose, and the one mapping from errors to their class.

The class decides what happens next: a permanent error is never retried (the same input would
fail again), a transient one is. The gateway turns these into SOAP Faults, the worker into
acks, requeues or parked messages, the metrics into `error_class` labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One broken rule at one place in the sender's message."""

    field: str
    rule: str
    message: str
    line: int | None = None


class HubError(Exception):
    error_class: ClassVar[str] = "internal"
    permanent: ClassVar[bool] = True


class ValidationFailed(HubError):
    """The input breaks its contract; says every field and rule, not just the first."""

    error_class = "validation"
    summary: ClassVar[str] = "validation failed"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.field}: {first.rule}: {first.message}{more}")

    def __reduce__(self) -> tuple[object, ...]:
        """Refusals cross back from the gateway's pool processes as they were made."""
        return type(self), (self.errors,)

    @classmethod
    def single(cls, field: str, rule: str, message: str, line: int | None = None) -> Self:
        return cls([FieldError(field, rule, message, line)])


class Unauthenticated(ValidationFailed):
    """The sender did not prove who it is: no signature, a broken one, or an untrusted certificate."""

    error_class = "unauthenticated"
    summary = "not authenticated"


class Unauthorised(ValidationFailed):
    """The sender is who it says, but the access table does not let it do this."""

    error_class = "unauthorised"
    summary = "not authorised"


class Unroutable(HubError):
    """No route or no bound queue for a message: a configuration error, never a silent drop."""

    error_class = "unroutable"


class BrokerUnavailable(HubError):
    """The broker did not confirm in time or the connection is gone; the sender should retry."""

    error_class = "broker_unavailable"
    permanent = False


class TargetRejected(HubError):
    """The target refused the record (SOAP Client fault or a per-record rejection)."""

    error_class = "target_rejected"


class TargetUnavailable(HubError):
    """The target could not be reached or answered 5xx / a Server fault."""

    error_class = "target_unavailable"
    permanent = False


class TargetTimeout(TargetUnavailable):
    error_class = "target_timeout"


class ProcessLost(HubError):
    """A process the work was handed to ended before answering; the work was not done, so again may succeed."""

    permanent = False


class MalformedMessage(HubError):
    """A broker message that is not a valid envelope (poison)."""

    error_class = "malformed_message"


class DeadlineExceeded(HubError):
    """A per-person query got no answer within its deadline; asking again may succeed."""

    error_class = "deadline_exceeded"
    permanent = False


class RemoteError(HubError):
    """An error another hub process reported (a query worker's answer), with its class kept."""

    def __init__(self, message: str, *, error_class: str, permanent: bool) -> None:
        super().__init__(message)
        self.error_class = error_class  # type: ignore[misc]
        self.permanent = permanent  # type: ignore[misc]


class ConfigurationError(ValueError):
    """A setting, a configuration file, or what they point at is wrong or missing: nothing goes right
    until an operator fixes it, so the hub does not start and a command ends with this message."""


STORE_UNAVAILABLE = "store_unavailable"
POISON = "poison"  # dead-lettered by the broker: delivered too often without an ack


def classify(exc: BaseException) -> tuple[str, bool]:
    """Return `(error_class, permanent)` for any exception; unknown ones are internal and permanent.
    The database not answering (restarting, failing over, a lost connection) passes."""
    if isinstance(exc, HubError):
        return exc.error_class, exc.permanent
    if isinstance(exc, OperationalError | DisconnectionError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return STORE_UNAVAILABLE, False
    return "internal", True


def error_classes() -> tuple[str, ...]:
    """Every class `classify` can give: the values an `error_class` or `outcome` label can take."""
    found = {"internal", STORE_UNAVAILABLE, POISON}
    pending: list[type[HubError]] = [HubError]
    while pending:
        cls = pending.pop()
        found.add(cls.error_class)
        pending.extend(cls.__subclasses__())
    return tuple(sorted(found))
