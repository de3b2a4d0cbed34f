"""What the gateway process does on the side: forget what is past its retention (hourly), and
checkpoint the audit chain whenever any process moved its head (every HUB_AUDIT_CHECKPOINT_SECONDS)."""

from __future__ import annotations

import datetime as dt
import logging

from hub.envelope import utcnow
from hub.runtime.components import Components
from hub.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

PURGE_SECONDS = 3600.0


class Housekeeping:
    def __init__(self, parts: Components) -> None:
        self.parts = parts

    def start(self, supervisor: Supervisor) -> None:
        supervisor.every("housekeeping", PURGE_SECONDS, self.purge, at_once=True)
        supervisor.every(
            "audit-checkpoints", self.parts.settings.audit_checkpoint_seconds, self.parts.audit.checkpoint_if_moved
        )

    def purge(self) -> dict[str, int]:
        """Forget what is past its retention: message-log events, stored payloads, used MessageIDs, claims
        of loads refused long ago."""
        parts, settings = self.parts, self.parts.settings
        now = utcnow()
        tasks = {
            "message_log_events": (parts.message_log.purge, settings.message_log_retention_days),
            "record_payloads": (parts.store.forget_payloads, settings.payload_retention_days),
            "failed_payloads": (parts.failed.forget_payloads, settings.payload_retention_days),
            "used_message_ids": (parts.used_message_ids.forget, 0),
            "receipt_claims": (parts.store.claims.forget, 1),
        }
        removed = {}
        for name, (forget, days) in tasks.items():
            before = now - dt.timedelta(days=days)
            try:
                removed[name] = forget(before)
            except Exception as exc:
                log.warning("retention purge failed", extra={"what": name, "error": str(exc)[:200]})
                continue
            if removed[name]:
                log.info("forgotten after retention", extra={"what": name, "count": removed[name], "before": before})
        return removed
