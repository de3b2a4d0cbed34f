"""The threads of one hub process, owned in one place: each started by name, all told to stop at once
and waited for, then what they used closed, last opened first."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self._closing: list[Callable[[], None]] = []

    def run(self, name: str, work: Callable[[threading.Event], None]) -> threading.Thread:
        """`work` runs in its own thread until the event it is given is set."""
        thread = threading.Thread(target=work, args=(self.stopping,), name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def every(self, name: str, seconds: float, action: Callable[[], object], *, at_once: bool = False) -> None:
        """`action` every `seconds` (and first at once, if so); a failure is logged and tried again."""

        def repeat(stopping: threading.Event) -> None:
            if not at_once and stopping.wait(seconds):
                return
            while True:
                try:
                    action()
                except Exception:
                    log.exception("a periodic task failed", extra={"task": name})
                if stopping.wait(seconds):
                    return

        self.run(name, repeat)

    def on_stop(self, close: Callable[[], None]) -> None:
        """Closed once the threads have ended: what they were using."""
        self._closing.append(close)

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=timeout)
        for close in reversed(self._closing):
            close()
        self._closing.clear()
