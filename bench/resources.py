"""What each hub process holds while it works, read from /proc: resident memory, open files, threads,
sockets and established TCP connections, for a process and every process it started (the gateway's
preparing pool), each on its own row; and the verdict on a run's samples.

The verdict: resident memory at most 10% above where it stood once warm, and no growth in open files,
threads, sockets or connections. Those counts rise and fall with the requests in flight (a partner's
connection, a thread taking a load), so they are judged by the highest count among the first tenth of
the samples against the lowest among the last tenth: a leak raises even the lowest. A watch under load
allows as many more as the load has requests in flight at most: each may hold a thread of the
gateway's pool (whose idle threads live on for a while) and a partner's connection."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.table import goal

RSS_MARGIN = 0.10
COUNTS = ("fds", "threads", "sockets", "tcp")
ESTABLISHED = "01"  # the state column of /proc/net/tcp


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    rss_mb: float
    fds: int
    threads: int
    sockets: int  # open files that are sockets of any kind
    tcp: int  # established TCP connections among them


@dataclass
class Series:
    """One process's samples, the first taken once it is warm."""

    name: str
    allowance: int = 0  # how much higher a count may end: the load's requests in flight at most
    samples: list[Sample] = field(default_factory=list)
    ended: bool = False  # it exited while watched

    def _window(self) -> int:
        return max(1, len(self.samples) // 10)

    @property
    def rss_start(self) -> float:
        return self.samples[0].rss_mb

    @property
    def rss_max(self) -> float:
        return max(s.rss_mb for s in self.samples)

    @property
    def rss_end(self) -> float:
        return self.samples[-1].rss_mb

    def start(self, count: str) -> int:
        return max(getattr(s, count) for s in self.samples[: self._window()])

    def end(self, count: str) -> int:
        return min(getattr(s, count) for s in self.samples[-self._window() :])

    def faults(self) -> list[str]:
        """What breaks the rule, empty when it holds."""
        found = ["exited while watched"] if self.ended else []
        if self.rss_max > self.rss_start * (1 + RSS_MARGIN):
            found.append(f"RSS +{self.rss_max / self.rss_start - 1:.0%}")
        found += [
            f"{count} {self.start(count)} → {self.end(count)}"
            for count in COUNTS
            if self.end(count) > self.start(count) + self.allowance
        ]
        return found

    @property
    def holds(self) -> bool:
        return not self.faults()


def _read_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """Every process `pid` started, and theirs, in the order they were started (by pid)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_read_stat(int(entry.name))[1])
            except (OSError, IndexError):
                continue  # ended meanwhile
    found, frontier = [], [pid]
    while frontier:
        children = sorted(child for child, parent in parents.items() if parent in frontier)
        found += children
        frontier = children
    return sorted(found)


def established_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if columns[3] == ESTABLISHED:
                inodes.add(columns[9])
    return inodes


def sample(pid: int, established: set[str]) -> Sample | None:
    """The process's holdings now; None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = {line.split(":", 1)[0]: line.split(":", 1)[1].split() for line in status if ":" in line}
        links = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue  # closed between the listing and the read
    except OSError:
        return None
    sockets = [link[8:-1] for link in links if link.startswith("socket:[")]
    return Sample(
        at=time.monotonic(),
        rss_mb=int(fields["VmRSS"][0]) / 1024,
        fds=len(links),
        threads=int(fields["Threads"][0]),
        sockets=len(sockets),
        tcp=sum(inode in established for inode in sockets),
    )


def _kind(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "process"
    if "resource_tracker" in command:
        return "resource tracker"
    return "preparing process" if "multiprocessing" in command else "process"


class Watch:
    """Samples named processes and the processes they start; each on its own row, named after the
    process that started it, as it is first seen."""

    def __init__(self, roots: dict[str, int], allowance: int = 0) -> None:
        self.roots = roots
        self.allowance = allowance
        self.by_pid: dict[int, Series] = {}

    def sample(self) -> None:
        established = established_inodes()
        seen = set()
        for name, root in self.roots.items():
            for pid in [root, *descendants(root)]:
                taken = sample(pid, established)
                if taken is None:
                    continue
                seen.add(pid)
                if pid not in self.by_pid:
                    self.by_pid[pid] = Series(self._name(name, root, pid), self.allowance)
                self.by_pid[pid].samples.append(taken)
        for pid, series in self.by_pid.items():
            series.ended = series.ended or pid not in seen

    def run(self, seconds: float, interval: float, alive: Callable[[], None]) -> None:
        """Sample every `interval` seconds for `seconds`, the last sample at the end; `alive` raises
        when a process the watch depends on has died."""
        ends = time.monotonic() + seconds
        while True:
            self.sample()
            alive()
            left = ends - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(interval, left))

    def _name(self, name: str, root: int, pid: int) -> str:
        if pid == root:
            return name
        kind = _kind(pid)
        number = 1 + sum(series.name.startswith(f"{name}, {kind}") for series in self.by_pid.values())
        return f"{name}, {kind} {number}"

    @property
    def series(self) -> list[Series]:
        return list(self.by_pid.values())


def judged(allowance: int) -> str:
    """How the table's counts are read, for the prose above it."""
    return (
        "Counts from the highest among the first tenth of the samples to the lowest among the last tenth, "
        f"which may end up to {allowance} higher (the load's requests in flight at most)."
    )


def table(series: list[Series]) -> list[str]:
    """One row per process: memory at the start, at most and at the end; each count from the start of
    the watch to its end; the verdict."""
    lines = [
        "| process | RSS start | max | end | open files | threads | sockets | TCP connections | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in series:
        counts = " | ".join(f"{s.start(count)} → {s.end(count)}" for count in COUNTS)
        verdict = goal(s.holds, "; ".join(s.faults()) or f"RSS ≤ +{RSS_MARGIN:.0%}, nothing grew")
        lines.append(
            f"| {s.name} | {s.rss_start:.0f} MB | {s.rss_max:.0f} MB | {s.rss_end:.0f} MB | {counts} | {verdict} |"
        )
    return lines
