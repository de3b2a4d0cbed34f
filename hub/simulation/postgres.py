"""A throwaway PostgreSQL server for the development cluster and its fault tests: its own data
folder and port, trust authentication on 127.0.0.1, so it can be restarted or killed without
touching any other PostgreSQL on the machine. PostgreSQL refuses to run as root: as root it runs
as the `postgres` user."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from hub.simulation.local import free_port

BINARIES = ("/usr/lib/postgresql/*/bin",)


def _binary(name: str) -> str:
    """The PostgreSQL tool `name`: on the PATH, else in Debian's versioned folder (not on the PATH)."""
    found = shutil.which(name) or next(
        (path for pattern in BINARIES for path in sorted(glob.glob(f"{pattern}/{name}"), reverse=True)), None
    )
    if found is None:
        raise FileNotFoundError(f"{name} not found: install PostgreSQL (Debian's postgresql package)")
    return found


class PostgresServer:
    """One server in `folder` (created; as root, owned by `postgres`) on `port` (a free one by default),
    with a database `database` owned by `user`."""

    def __init__(self, folder: Path, *, port: int = 0, user: str = "hub", database: str = "hub") -> None:
        self.folder = folder
        self.port = port or free_port()
        self.user = user
        self.database = database
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        """The hub's HUB_STORE_URL for this server's database."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *command: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _pg_ctl(self, *args: str) -> None:
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args)

    def start(self) -> PostgresServer:
        """Create the cluster the first time, then start the server and wait until it answers."""
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self._as_postgres:
                shutil.chown(self.folder, "postgres", "postgres")
            self._run(
                _binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8", "--no-sync"
            )
        # fsync off: the data outlives the server's processes (the faults tested), not the machine's
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off -c max_connections=200"
        self._pg_ctl("-w", "-t", "60", "-o", options, "start")
        if fresh:
            self._create_database()
        return self

    def _create_database(self) -> None:
        with psycopg.connect(
            f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", autocommit=True, connect_timeout=10
        ) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self, *, immediate: bool = False) -> None:
        """Stop the server: `immediate` kills it without a checkpoint, as a crash would (recovery at start)."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-w", "-t", "60", "-m", "immediate" if immediate else "fast", "stop")

    def restart(self, *, immediate: bool = True, down_seconds: float = 0.0) -> None:
        """Stop, stay down `down_seconds`, start again."""
        self.stop(immediate=immediate)
        time.sleep(down_seconds)
        self.start()

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def remove(self) -> None:
        """Stop the server whatever its state and delete its folder."""
        try:
            self.stop(immediate=True)
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = self.data / "postmaster.pid"
            if pid.exists():
                try:
                    os.kill(int(pid.read_text().split()[0]), 9)
                except (ValueError, ProcessLookupError):
                    pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.remove()
