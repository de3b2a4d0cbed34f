"""How busy the machine was while a section ran, from the kernel's counters (/proc): the share of
all CPUs stolen by the hypervisor, taken by the bench's own processes (the hub, simulators, load
generators and the bench itself), by the machine's RabbitMQ, by its PostgreSQL (each with the
children it forked) and by everything else, so that a reader can tell a run measured on a noisy
machine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SERVICES = {"rabbitmq": "beam.smp", "postgresql": "postgres"}


@dataclass(frozen=True)
class Process:
    parent: int
    name: str
    own: int  # ticks the process spent itself (user + system)
    ended_children: int  # ticks of the children it has already reaped
    started: int  # ticks after boot


def processes() -> dict[int, Process]:
    """Every process's CPU counters now; empty off Linux."""
    table = {}
    for entry in PROC.iterdir() if (PROC / "self" / "stat").exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        table[int(entry.name)] = Process(
            int(fields[1]), name, int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), int(fields[19])
        )
    return table


def tree_ticks(root: int, table: dict[int, Process]) -> int | None:
    """CPU ticks of a process and all its descendants, those alive and those already reaped; None
    when the process is not there. Taken twice, the difference is what the tree spent between."""
    if root not in table:
        return None
    children: dict[int, list[int]] = {}
    for pid, process in table.items():
        children.setdefault(process.parent, []).append(pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += table[pid].own + table[pid].ended_children
        pending.extend(children.get(pid, ()))
    return total


def tree_seconds(root: int) -> float | None:
    ticks = tree_ticks(root, processes())
    return None if ticks is None else ticks / TICK


def service(name: str, table: dict[int, Process]) -> int | None:
    """The machine's own service of that process name: the oldest such process (RabbitMQ's CLI tools
    and test clusters run beam.smp too, and come later)."""
    found = [(p.started, pid) for pid, p in table.items() if p.name == name]
    return min(found)[1] if found else None


@dataclass(frozen=True)
class Snapshot:
    when: float
    cpu: list[int]  # /proc/stat's first line: user nice system idle iowait irq softirq steal ...
    bench: int
    services: dict[str, tuple[int | None, int]]  # each service's process and its tree's ticks


def snapshot(before: Snapshot | None = None) -> Snapshot:
    """The counters now; the services' processes as `before` found them."""
    stat = PROC / "stat"
    cpu = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:9]] if stat.exists() else [0] * 8
    table = processes()
    pids = {key: before.services[key][0] if before else service(name, table) for key, name in SERVICES.items()}
    return Snapshot(
        time.monotonic(),
        cpu,
        tree_ticks(os.getpid(), table) or 0,
        {key: (pid, (tree_ticks(pid, table) or 0) if pid else 0) for key, pid in pids.items()},
    )


@dataclass(frozen=True)
class Busyness:
    """Shares of all the machine's CPU time (every core) over a section."""

    seconds: float
    steal: float
    bench: float  # the bench's processes: what is being measured, its simulators and load generators
    rabbitmq: float
    postgresql: float
    other: float  # busy time nobody of the above accounts for: other people's processes
    idle: float


def between(before: Snapshot, after: Snapshot) -> Busyness:
    delta = [b - a for a, b in zip(before.cpu, after.cpu, strict=True)]
    user, nice, system, idle, iowait, irq, softirq, steal = delta
    total = sum(delta) or 1
    busy = user + nice + system + irq + softirq
    bench = after.bench - before.bench
    services = {name: max(after.services[name][1] - before.services[name][1], 0) for name in SERVICES}
    return Busyness(
        seconds=after.when - before.when,
        steal=steal / total,
        bench=bench / total,
        rabbitmq=services["rabbitmq"] / total,
        postgresql=services["postgresql"] / total,
        other=max(busy - bench - sum(services.values()), 0) / total,
        idle=(idle + iowait) / total,
    )


@contextmanager
def watched(into: list[Busyness]) -> Iterator[None]:
    """Append how busy the machine was while the block ran (also when it raised)."""
    before = snapshot()
    try:
        yield
    finally:
        into.append(between(before, snapshot(before)))
