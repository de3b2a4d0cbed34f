"""Data loads taken in (read and staged) in processes of their own.

Parsing, signature checks, schema validation, mapping and storing a load's rows are CPU work in
Python, lxml and the database driver, and one process runs them on one core at a time whatever its
threads. The pool's processes each build the same `Reception` from the same settings (the store is
shared through its database) and hand back what the gateway publishes and answers: a load's sealed
bundles and its receipt, not an object per record, with what they learnt of the request (its header,
its operation) whether they took it or refused it. The gateway keeps the broker, the receipts' rows
and metrics.

Each process talks to the gateway over a socket of its own, which the gateway's event loop reads and
writes itself: one load at a time per process, no thread between the loop and the process (an
executor's queues cost the gateway a thread hop and a wake-up each way for every load).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import HubError, ProcessLost
from hub.gateway.reader import RequestContext
from hub.gateway.reception import Reception, Taken

log = logging.getLogger(__name__)

_SIZE = struct.Struct(">Q")  # each message on a process's socket: its length, then its pickle
_READY = b"ready"


class _Ended(Exception):
    """The other end of a process's socket closed."""


def _receive(sock: socket.socket) -> bytes:
    """One message, blocking (the process's side)."""
    head = _exactly(sock, _SIZE.size)
    return _exactly(sock, _SIZE.unpack(head)[0])


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise _Ended
        got += n
    return bytes(data)


def _send(sock: socket.socket, message: bytes) -> None:
    sock.sendall(_SIZE.pack(len(message)) + message)


def _serve(sock: socket.socket, build: Callable[[], Reception], configure_logs: Callable[[], None]) -> None:
    """A pool process: build once, say it is ready, then take one load after another until the gateway
    closes its end.

    Ctrl-C in a terminal signals the whole process group: that is for the gateway, which answers the
    loads in flight and then ends its pool. A pool process that took it would fail the load it holds.
    SIGTERM still ends a pool process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logs()
    reception = build()
    gc.collect()
    gc.freeze()  # as `hub serve` does: what was built lives as long as the process
    _send(sock, _READY)
    while True:
        try:
            context, data = pickle.loads(_receive(sock))
        except _Ended:
            return
        try:
            outcome: Taken | HubError = reception.take(context, data)
        except HubError as refusal:
            outcome = refusal
        try:
            _send(sock, pickle.dumps((context, outcome), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return  # the gateway gave up on this load and closed its end


@dataclass
class _Process:
    process: multiprocessing.process.BaseProcess
    sock: socket.socket  # the gateway's end, non-blocking once started

    def end(self) -> None:
        self.sock.close()  # a process waiting for a load sees its end and returns
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class ReceptionPool:
    """`processes` workers, spawned (not forked: the gateway runs threads) and all started before
    the constructor returns, so the first load pays for nobody's imports. A process that dies
    (killed, out of memory) costs the load it held a retryable Fault; it is started again."""

    def __init__(
        self, processes: int, build: Callable[[], Reception], configure_logs: Callable[[], None], *, timeout: float = 60
    ) -> None:
        self.processes = processes
        self._build = build
        self._configure_logs = configure_logs
        self._timeout = timeout
        self._context = multiprocessing.get_context("spawn")
        self._idle: deque[_Process] = deque()
        self._waiting: deque[asyncio.Future[None]] = deque()  # loads waiting for a process, first come first
        self._all: list[_Process] = []
        started = [self._spawn() for _ in range(processes)]
        try:
            for process in started:
                self._ready(process)
        except BaseException:
            for process in started:
                process.end()
            raise RuntimeError("the gateway's preparing processes did not start; see their log") from None
        self._all = started
        self._idle.extend(started)
        log.info("gateway preparing processes started", extra={"processes": processes})

    def _spawn(self) -> _Process:
        ours, theirs = socket.socketpair()
        process = self._context.Process(target=_serve, args=(theirs, self._build, self._configure_logs), daemon=True)
        try:
            process.start()
        finally:
            theirs.close()
        return _Process(process, ours)

    def _ready(self, process: _Process) -> None:
        """Wait for the process's word that it is built; a process that failed to build ends without it."""
        process.sock.settimeout(self._timeout)
        try:
            if _receive(process.sock) != _READY:
                raise _Ended
        except (_Ended, OSError):
            raise RuntimeError("a preparing process did not start") from None
        process.sock.setblocking(False)

    def _started(self) -> _Process:
        process = self._spawn()
        try:
            self._ready(process)
        except BaseException:
            process.end()
            raise
        return process

    async def take(self, context: RequestContext, data: bytes) -> Taken:
        process = await self._checkout()
        try:
            learnt, outcome = await self._call(process, context, data)
        except BaseException as exc:
            # the process died, or this call was abandoned halfway through its socket's messages
            replacement = await asyncio.to_thread(self._replace, process)
            self._checkin(replacement)
            if isinstance(exc, _Ended | OSError):
                raise ProcessLost(
                    "a process taking in data loads ended; the load was not accepted: send it again"
                ) from None
            raise
        self._checkin(process)
        context.header, context.operation = learnt.header, learnt.operation
        if isinstance(outcome, HubError):
            raise outcome
        return outcome

    @staticmethod
    async def _call(process: _Process, context: RequestContext, data: bytes) -> tuple[RequestContext, Taken | HubError]:
        loop = asyncio.get_running_loop()
        sock = process.sock
        request = pickle.dumps((context, data), protocol=pickle.HIGHEST_PROTOCOL)
        await loop.sock_sendall(sock, _SIZE.pack(len(request)))
        await loop.sock_sendall(sock, request)
        head = await _read(loop, sock, _SIZE.size)
        return pickle.loads(await _read(loop, sock, _SIZE.unpack(head)[0]))  # type: ignore[no-any-return]

    async def _checkout(self) -> _Process:
        while not self._idle:
            waiting = asyncio.get_running_loop().create_future()
            self._waiting.append(waiting)
            try:
                await waiting
            except BaseException:
                if waiting.done() and not waiting.cancelled():
                    self._wake()  # it was this one's turn: pass it on
                raise
        return self._idle.popleft()

    def _checkin(self, process: _Process) -> None:
        self._idle.append(process)
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.done():
                waiting.set_result(None)
                return

    def _replace(self, lost: _Process) -> _Process:
        log.error("a gateway preparing process ended or was abandoned mid-load; starting another")
        lost.end()
        process = self._started()
        self._all = [process if p is lost else p for p in self._all]
        return process

    def close(self) -> None:
        for process in self._all:
            process.end()


async def _read(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise _Ended
        got += n
    return bytes(data)
