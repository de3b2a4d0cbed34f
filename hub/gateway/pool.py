"""Data loads taken in (read and staged) in processes of their own.

Parsing, signature checks, schema validation, mapping and storing a load's rows are CPU work in
Python, lxml and the database driver, and one process runs them on one core at a time whatever its
threads. The pool's processes each build the same `Reception` from the same settings (the store is
shared through its database) and hand back what the gateway publishes and answers: a load's sealed
bundles and its receipt, not an object per record, with what they learnt of the request (its header,
its operation) whether they took it or refused it. The gateway keeps the broker, the receipts' rows
and metrics.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.synchronize import Barrier

from hub.errors import HubError, ProcessLost
from hub.gateway.reader import RequestContext
from hub.gateway.reception import Reception, Taken

log = logging.getLogger(__name__)

_reception: Reception | None = None  # in a pool process: built once by `_start`


def _start(build: Callable[[], Reception], configure_logs: Callable[[], None], started: Barrier) -> None:
    """A pool process's first act; `started` (a barrier) lets the gateway wait until all are ready.

    Ctrl-C in a terminal signals the whole process group: that is for the gateway, which answers the
    loads in flight and then ends its pool. A pool process that took it would fail the load it holds and
    leave the gateway starting a new pool while it stops. SIGTERM still ends a pool process: the
    executor sends it to the others when one has died, and waits for them to end."""
    global _reception
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        configure_logs()
        _reception = build()
        gc.collect()
        gc.freeze()  # as `hub serve` does: what was built lives as long as the process
    except BaseException:
        started.abort()
        raise
    started.wait()


def _nothing() -> None:
    """Submitted once per process: the pool starts a process for each task it cannot place."""


def _take(context: RequestContext, data: bytes) -> tuple[RequestContext, Taken | HubError]:
    assert _reception is not None, "a pool process takes requests only once started"
    try:
        return context, _reception.take(context, data)
    except HubError as refusal:
        return context, refusal


class ReceptionPool:
    """`processes` workers, spawned (not forked: the gateway runs threads) and all started before
    the constructor returns, so the first load pays for nobody's imports. A process that dies
    (killed, out of memory) costs the loads in flight a retryable Fault; the pool is started again."""

    def __init__(
        self, processes: int, build: Callable[[], Reception], configure_logs: Callable[[], None], *, timeout: float = 60
    ) -> None:
        self.processes = processes
        self._build = build
        self._configure_logs = configure_logs
        self._timeout = timeout
        self._lock = threading.Lock()
        self._executor = self._started()
        log.info("gateway preparing processes started", extra={"processes": processes})

    def _started(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        started = context.Barrier(self.processes + 1)
        executor = ProcessPoolExecutor(
            self.processes,
            mp_context=context,
            initializer=_start,
            initargs=(self._build, self._configure_logs, started),
        )
        try:
            for _ in range(self.processes):
                executor.submit(_nothing)
            started.wait(self._timeout)
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise RuntimeError("the gateway's preparing processes did not start; see their log") from None
        return executor

    async def take(self, context: RequestContext, data: bytes) -> Taken:
        executor = self._executor
        try:
            learnt, outcome = await asyncio.wrap_future(executor.submit(_take, context, data))
        except BrokenProcessPool:
            await asyncio.to_thread(self._restart, executor)
            raise ProcessLost(
                "a process taking in data loads ended; the load was not accepted: send it again"
            ) from None
        context.header, context.operation = learnt.header, learnt.operation
        if isinstance(outcome, HubError):
            raise outcome
        return outcome

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:
                return  # another load's failure already started a new pool
            log.error("a gateway preparing process ended; starting the pool again")
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._started()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
