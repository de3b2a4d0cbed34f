"""Replay jobs: a replay of thousands of failed messages that an operator confirmed in the console,
kept in the store and worked through in chunks by a thread, so the page can show progress and a hub
that stops half-way goes on where it stopped when it starts again.

A job holds the ids to replay, written once, and how many of them were handled. Each chunk goes
through `FailedMessages.replay` (the one way the CLI, the JSON API and the console replay), and the
job row moves on after the chunk's messages were confirmed by the broker and marked replayed. A hub
that stopped between the two finds the chunk's messages already replayed when it resumes: they count
as done, not as sent again. A runner holds a job by a lease, so two processes serving the console
never work on the same job; a runner that stops cleanly gives its lease back at once, one that died
loses it when it runs out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text, or_, select, update

from hub.envelope import utcnow
from hub.operations.failed_messages import FailedMessages
from hub.store.db import Database, metadata
from hub.store.failed import FailedState

log = logging.getLogger(__name__)

replay_jobs = Table(
    "replay_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operator", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("selection", Text, nullable=False),  # JSON: what the operator chose (ids, a group or a filter)
    Column("force", Boolean, nullable=False, default=False),
    Column("state", String(16), nullable=False, index=True),  # running, done
    Column("total", Integer, nullable=False),
    Column("replayed", Integer, nullable=False, default=0),
    Column("skipped", Text, nullable=False, default="{}"),  # JSON: id -> why it was not replayed
    Column("ids", Text, nullable=False),  # JSON list of the ids to replay, in order, written once
    Column("position", Integer, nullable=False, default=0),  # how many of them were handled
    Column("error", Text),
    Column("holder", String(80)),
    Column("held_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

CHUNK = 100
LEASE = dt.timedelta(seconds=60)
RETRY = dt.timedelta(seconds=30)
IDLE_SECONDS = 1.0


class JobState:
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class ReplayJob:
    id: int
    operator: str
    reason: str
    selection: dict[str, Any]
    force: bool
    state: str
    total: int
    replayed: int
    skipped: dict[str, str]
    ids: list[int] = field(repr=False)
    position: int
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    holder: str | None = field(default=None, repr=False)

    @property
    def finished(self) -> int:
        return self.position

    @property
    def remaining(self) -> list[int]:
        return self.ids[self.position :]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class ReplayJobs:
    def __init__(self, db: Database, service: FailedMessages, *, chunk: int = CHUNK) -> None:
        db.create(replay_jobs)
        self.engine = db.engine
        self.service = service
        self.chunk = chunk
        self.holder = f"{uuid.uuid4().hex[:16]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the pages do -------------------------------------------------------------------------

    def create(
        self, ids: Sequence[int], *, operator: str, reason: str, selection: dict[str, Any], force: bool = False
    ) -> int:
        """A job replaying `ids`; the runner picks it up at once. Audited as the operator's request."""
        if not reason.strip():
            raise ValueError("a replay needs a reason")
        now = utcnow()
        with self.engine.begin() as conn:
            job = conn.execute(
                replay_jobs.insert().values(
                    operator=operator,
                    reason=reason,
                    selection=json.dumps(selection, sort_keys=True),
                    force=force,
                    state=JobState.RUNNING if ids else JobState.DONE,
                    total=len(ids),
                    replayed=0,
                    skipped="{}",
                    ids=json.dumps(sorted(ids)),
                    position=0,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
        self.service.audit.record(
            operator=operator,
            action="replay-job",
            subject=f"job {job}",
            reason=reason,
            details={"selection": selection, "count": len(ids), "forced": force},
        )
        self._wake.set()
        return int(job)

    def get(self, job_id: int) -> ReplayJob | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(replay_jobs).where(replay_jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def recent(self, limit: int = 20) -> list[ReplayJob]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(replay_jobs).order_by(replay_jobs.c.id.desc()).limit(limit)).all()
        return [_job(r) for r in rows]

    # -- the runner --------------------------------------------------------------------------------

    def start(self) -> ReplayJobs:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="replay-jobs", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stops after the chunk in hand and gives back the jobs this runner held."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self.engine.begin() as conn:
            conn.execute(
                update(replay_jobs).where(replay_jobs.c.holder == self.holder).values(holder=None, held_until=None)
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.work()
            except Exception:
                log.exception("replay jobs: a round failed; trying again")
                worked = 0
            if not worked:
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()

    def work(self, max_chunks: int | None = None) -> int:
        """Replays chunks of unfinished jobs until none is left, the runner is stopped or `max_chunks`
        were done; returns how many chunks were done."""
        chunks = 0
        while not self._stop.is_set() and (max_chunks is None or chunks < max_chunks):
            job = self._claim()
            if job is None:
                break
            self._step(job)
            chunks += 1
        return chunks

    def _claim(self) -> ReplayJob | None:
        now = utcnow()
        c = replay_jobs.c
        free = or_(c.held_until.is_(None), c.held_until < now, c.holder == self.holder)
        with self.engine.begin() as conn:
            for (job_id,) in conn.execute(select(c.id).where(c.state == JobState.RUNNING, free).order_by(c.id)):
                taken = conn.execute(
                    update(replay_jobs)
                    .where(c.id == job_id, c.state == JobState.RUNNING, free)
                    .values(holder=self.holder, held_until=now + LEASE)
                ).rowcount
                if taken:
                    row = conn.execute(select(replay_jobs).where(c.id == job_id)).first()
                    return _job(row)
        return None

    def _step(self, job: ReplayJob) -> None:
        chunk = job.ids[job.position : job.position + self.chunk]
        skipped = dict(job.skipped)
        replayed = 0
        try:
            messages = self.service.failed.get(chunk)
            found = {m.id for m in messages}
            for gone in sorted(set(chunk) - found):
                skipped[str(gone)] = "no longer in the failed-message store"
            # replayed by this job before a stop that came between the broker's confirm and this row's update
            already = {m.id for m in messages if m.state != FailedState.FAILED and m.updated_at >= job.created_at}
            replayed += len(already)
            todo = [m for m in messages if m.id not in already]
            outcome = self.service.replay(todo, operator=job.operator, reason=job.reason, force=job.force)
            replayed += len(outcome.replayed)
            skipped |= {str(k): v for k, v in outcome.skipped.items()}
        except Exception as exc:  # the broker away, say: the job waits out its lease and tries again
            log.warning("replay job chunk failed", extra={"job": job.id, "error": str(exc)[:200]})
            self._save(job, job.position, job.replayed, job.skipped, JobState.RUNNING, str(exc)[:500], retry=True)
            return
        position = job.position + len(chunk)
        state = JobState.RUNNING if position < job.total else JobState.DONE
        self._save(job, position, job.replayed + replayed, skipped, state, None)

    def _save(
        self,
        job: ReplayJob,
        position: int,
        replayed: int,
        skipped: dict[str, str],
        state: str,
        error: str | None,
        *,
        retry: bool = False,
    ) -> None:
        """`retry`: the chunk failed; the job is let go, to be taken up again after RETRY."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(replay_jobs)
                .where(replay_jobs.c.id == job.id)
                .values(
                    position=position,
                    replayed=replayed,
                    skipped=json.dumps(skipped),
                    state=state,
                    error=error,
                    updated_at=now,
                    holder=None if retry else self.holder,
                    held_until=now + (RETRY if retry else LEASE),
                )
            )


def _job(r: Any) -> ReplayJob:
    return ReplayJob(
        id=r.id,
        operator=r.operator,
        reason=r.reason,
        selection=json.loads(r.selection),
        force=bool(r.force),
        state=r.state,
        total=r.total,
        replayed=r.replayed,
        skipped=json.loads(r.skipped),
        ids=json.loads(r.ids),
        position=r.position,
        error=r.error,
        created_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at),
        holder=r.holder,
    )
