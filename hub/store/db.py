"""The hub's database: SQLite by default (WAL, safe across processes), PostgreSQL by URL.

Receipts, record status, failed messages and the audit trail share one database, so a failure
is recorded in the status and in the failed-message store in one transaction.
"""

from __future__ import annotations

import logging
import operator
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    column,
    create_engine,
    event,
    func,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Insert

from hub.errors import ConfigurationError
from hub.files import create_private_file
from hub.pseudonym import mask
from hub.store.crypto import Sealer

log = logging.getLogger(__name__)
metadata = MetaData()
REASON_CHARS = 2000  # the longest failure reason kept
CREATE_ATTEMPTS = 5
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class StoreMissing(ConfigurationError):
    """The store is not where the settings say, and may not be made there: a command that reads it
    would otherwise leave an empty database behind and answer from it."""


def create_store_engine(url: str, *, create: bool = True) -> Engine:
    """The store's engine; with `create` False a SQLite file that is not there is refused, not made."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    path = sqlite_file(url)
    if path is not None:
        if not create and not path.exists():
            raise StoreMissing(
                f"no store at {path.absolute()}: set HUB_STORE_URL to the hub's database, "
                "or run this where the hub runs"
            )
        _prepare_sqlite_file(path)
    # A server connection may have died while pooled; a SQLite file cannot, so it is not pinged first.
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Loads' commits rewrite the same index pages again and again: a longer log between
            # checkpoints (10,000 pages) writes such a page to the database once for many commits.
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _prepare_sqlite_file(path: Path) -> None:
    """The database is created 0600 before SQLite opens it: SQLite would make it 0644 under the usual
    umask, and it gives its -wal and -shm files the main file's mode, so those follow."""
    if create_private_file(path):
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "the database file is open to its group or others: chmod 600 it",
            extra={"store_file": str(path), "mode": oct(mode)},
        )
    for suffix in SQLITE_SIDE_FILES:  # left by a run before the main file was narrowed
        side = path.with_name(path.name + suffix)
        try:
            side_mode = stat.S_IMODE(side.stat().st_mode)
            if side_mode & ~mode:
                side.chmod(side_mode & mode)
        except OSError:  # gone meanwhile, or not the hub's to change
            continue


class Database:
    def __init__(
        self, store: str | Engine, sealer: Sealer, scrub: Callable[[str], str] = mask, *, create: bool = True
    ) -> None:
        """`store`: a URL, or an engine from `create_store_engine`; `sealer` seals payloads; `scrub` takes
        person codes out of free text the stores keep in clear (a target's reason, an operator's note):
        pseudonyms with the hub's key, else a marker. `create` False: the database and its tables must be
        there already (the operators' commands, which must not make an empty store and read it)."""
        self.engine = create_store_engine(store, create=create) if isinstance(store, str) else store
        self.sealer = sealer
        self.scrub = scrub
        self.creates = create

    def create(self, *tables: Table) -> None:
        """The tables a store keeps, and their indexes, created where missing: each store asks for its
        own; an index added since a store was made is built as the hub starts. Hub processes started
        together (a deployment's gateways and workers) race to create them: a process that lost finds
        them made by the winner when it looks again. Where the store may not be made, a table missing
        is refused."""
        if not self.creates:
            have = inspect(self.engine)
            if missing := [table.name for table in tables if not have.has_table(table.name)]:
                url = self.engine.url.render_as_string(hide_password=True)
                raise StoreMissing(
                    f"the store {url} has no table {', '.join(missing)}: set HUB_STORE_URL to the hub's database "
                    "(the hub makes its tables as it starts)"
                )
            return
        for attempt in range(CREATE_ATTEMPTS):
            try:
                metadata.create_all(self.engine, tables=tables, checkfirst=True)
                for index in (index for table in tables for index in table.indexes):
                    index.create(self.engine, checkfirst=True)
                return
            except DBAPIError:
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def reason(self, text: str) -> str:
        """A failure's reason as the stores keep it: scrubbed, then cut (never a code cut in half)."""
        return self.scrub(text)[:REASON_CHARS]

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING in the engine's dialect."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def insert_if_new(self, table: Table) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING RETURNING the key: a row back means this statement inserted it.
        (The rowcount cannot say so: SQLAlchemy reports -1 for a single insert on PostgreSQL.)"""
        return self.insert_ignoring_duplicates(table).returning(*table.primary_key.columns)

    def among(self, key: ColumnElement[str], name: str = "ids") -> ColumnElement[bool]:
        """`key` IN a list given as ONE parameter, a JSON array (`ids_parameter`): an IN of many bound
        values is rendered anew for every length, and a driver's array costs Python work per item,
        both more than the query on a hot path."""
        ids = bindparam(name, type_=String)
        if self.engine.dialect.name == "postgresql":
            return key.in_(select(func.json_array_elements_text(cast(ids, JSON))))
        return key.in_(select(column("value")).select_from(func.json_each(ids)))

    @staticmethod
    def not_searched(state: ColumnElement[str]) -> ColumnElement[str]:
        """A state column as an expression no index serves, for a condition beside a batch's keys:
        given the column itself, SQLite searches the state's index and reads every row in that state,
        not the batch's few rows by their key."""
        return state + ""

    @staticmethod
    def ids_parameter(ids: Sequence[str]) -> str:
        """`ids` as `among`'s parameter."""
        return orjson.dumps(list(ids)).decode()

    def bulk_insert_ignoring_duplicates(self, table: Table, columns: Sequence[str]) -> BulkInsert:
        return BulkInsert(self.engine, self.insert_ignoring_duplicates(table), columns)

    def close(self) -> None:
        self.engine.dispose()


class BulkInsert:
    """Many rows in one go, the statement compiled once. SQLAlchemy's own executemany builds and
    converts every row's parameters in Python, and psycopg's sends each row as a statement of its
    own, both costing more than the insert itself. On SQLite the rows go through the driver's
    executemany (its loop is in C), converting only the columns whose type needs it; on PostgreSQL
    they go as ONE parameter, a JSON array the server reads into rows (`json_populate_recordset`),
    which only takes columns whose values JSON carries as they are (text, numbers, times)."""

    def __init__(self, engine: Engine, statement: Insert, columns: Sequence[str]) -> None:
        dialect = engine.dialect
        table = statement.table
        self.converters = {
            name: convert
            for name in columns
            if (convert := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        self.as_json = dialect.name == "postgresql"
        if self.as_json:
            if self.converters:
                raise TypeError(f"columns {sorted(self.converters)} need converting: JSON cannot carry them")
            named = dialect.identifier_preparer.format_table(table)
            rows = func.json_populate_recordset(literal_column(f"NULL::{named}"), cast(bindparam("rows"), JSON))
            statement = statement.from_select(list(columns), select(*(column(c) for c in columns)).select_from(rows))
        compiled = statement.compile(dialect=dialect, column_keys=None if self.as_json else list(columns))
        self.sql = str(compiled)
        order = list(compiled.positiontup or []) if compiled.positional else None
        self.values: Callable[[dict[str, Any]], tuple[Any, ...]] | None = None
        if order and not self.as_json:
            pick = operator.itemgetter(*order)
            self.values = pick if len(order) > 1 else lambda row: (pick(row),)

    def __call__(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if self.as_json:
            conn.exec_driver_sql(self.sql, {"rows": orjson.dumps(rows).decode()})
            return
        for name, convert in self.converters.items():
            converted: dict[Any, Any] = {}  # a load's rows mostly share their values (the time it came)
            for row in rows:
                value = row[name]
                if value not in converted:
                    converted[value] = convert(value)
                row[name] = converted[value]
        values = self.values
        conn.exec_driver_sql(self.sql, [values(row) for row in rows] if values else rows)
