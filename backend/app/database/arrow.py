"""Arrow connections (ADBC): the one place that opens one, from the project's database URL.

The SQLAlchemy engine in ``db.py`` moves rows as Python objects; an ADBC connection moves
whole Arrow columns (prepared-statement batches on SQLite, binary COPY on PostgreSQL), for
bulk loads and DataFrame reads. It is made from the same URL (``DATABASE_URL`` or
``--database-url``): the SQLite file path, or the PostgreSQL URI without SQLAlchemy's
``+psycopg`` driver part. A SQLite connection gets the same settings as the engine's
(foreign keys, busy timeout, WAL), and a write transaction begins IMMEDIATE, so it
queues behind another writer instead of failing on a lock upgrade.

One caution on SQLite: the driver carries its own copy of the SQLite library, and POSIX
file locks do not conflict within one process, so an Arrow connection and the engine's
connections in the SAME process do not lock against each other (other processes are
locked out as usual), and closing one copy's file handle can drop the other's locks. A
writer through Arrow therefore runs with no engine connection open on the same file
(``Engine.dispose()`` first, and open none until the Arrow connection is closed).

pyarrow and the drivers are imported inside the functions: commands that never move
Arrow data never pay for loading them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import URL

from backend.app.database.db import SQLITE_BUSY_TIMEOUT_MS, normalize_url, sqlite_file

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection

__all__ = [
    "BulkConnection",
    "arrow_connection",
    "arrow_snapshot",
    "arrow_transaction",
    "driver_uri",
    "is_sqlite",
    "write_sqlite_file",
]

# A SQLite snapshot is only known to be shared when no commit lands while the readers
# start; a busy writer gets this many tries before the read falls back to one connection.
SNAPSHOT_TRIES = 3
_R = TypeVar("_R")
_PG_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


def is_sqlite(url: str | URL) -> bool:
    return normalize_url(url).get_backend_name() == "sqlite"


def driver_uri(url: str | URL) -> str:
    """The URI the ADBC driver takes for ``url``: a SQLite file (or ``file:`` URI), or a
    libpq ``postgresql://`` URI with the password kept (it is never printed from here).

    Raises ValueError for an in-memory SQLite database (another connection could not see
    it) and for a backend without an ADBC driver here.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if sqlite_file(parsed) is None:
            raise ValueError("an in-memory SQLite database cannot be reached by another connection")
        # A ``file:`` URI keeps its own options (mode=ro, ...): the driver opens URIs.
        return parsed.database or ""
    if backend == "postgresql":
        return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    raise ValueError(f"no Arrow (ADBC) driver for the {backend!r} backend")


# The engine's per-connection settings (db.py), so both work under the same rules.
# Outside any transaction: SQLite ignores foreign_keys inside one.
_SQLITE_SETTINGS = (
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
)


def _open_sqlite(uri: str) -> Connection:
    import adbc_driver_sqlite.dbapi

    connection: Connection = adbc_driver_sqlite.dbapi.connect(uri, autocommit=True)
    cursor = connection.cursor()
    try:
        for setting in _SQLITE_SETTINGS:
            cursor.execute(setting)
            if cursor.description:
                cursor.fetchall()  # journal_mode answers a row: read it
    finally:
        cursor.close()
    return connection


def _open_postgresql(uri: str) -> Connection:
    import adbc_driver_postgresql.dbapi

    connection: Connection = adbc_driver_postgresql.dbapi.connect(uri, autocommit=True)
    return connection


@contextmanager
def arrow_connection(url: str | URL) -> Iterator[Connection]:
    """An ADBC DB-API connection to the database at ``url``, closed afterwards.

    It autocommits: each statement (a read, one batch ingest) stands alone. A unit of work
    that must land whole uses ``arrow_transaction``.
    """
    uri = driver_uri(url)
    connection = _open_sqlite(uri) if is_sqlite(url) else _open_postgresql(uri)
    try:
        yield connection
    finally:
        connection.close()


class BulkConnection:
    """An ADBC connection through the driver's low-level API: SQL statements and Arrow
    ingests, for writers that must stay small. The DB-API module imports
    ``pyarrow.dataset`` and with it pandas (~55 MB resident), which a bounded-memory
    import cannot afford. The driver calls release the GIL, as the DB-API's do."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql``; its rows. Values reach a statement as Arrow data (``ingest`` into
        a temporary table), never as bound Python values: pyarrow loads pandas (~40 MB
        resident) on the first Python value it converts."""
        import pyarrow as pa

        def run(statement: Any) -> list[tuple[Any, ...]]:
            statement.set_sql_query(sql)
            stream, _rows = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            rows: list[tuple[Any, ...]] = []
            for batch in reader:
                columns = [column.to_pylist() for column in batch.columns]
                rows.extend(zip(*columns, strict=True))
            return rows

        return self._with_statement(run)

    def ingest(
        self, table: str, data: Any, *, mode: str = "append", temporary: bool = False
    ) -> int:
        """Append (or ``create``/``replace``) Arrow ``data`` (a reader, table or batch) into
        ``table``; the rows written, if the driver says (else -1)."""
        import adbc_driver_manager as adbc

        modes = {
            "append": adbc.INGEST_OPTION_MODE_APPEND,
            "create": adbc.INGEST_OPTION_MODE_CREATE,
            "replace": "adbc.ingest.mode.replace",
        }

        def run(statement: Any) -> int:
            options = {
                adbc.INGEST_OPTION_TARGET_TABLE: table,
                adbc.INGEST_OPTION_MODE: modes[mode],
            }
            if temporary:
                options[adbc.StatementOptions.INGEST_TEMPORARY.value] = "true"
            statement.set_options(**options)
            if hasattr(data, "__arrow_c_stream__") and not hasattr(data, "__arrow_c_array__"):
                statement.bind_stream(data)
            else:
                statement.bind(data)
            return int(statement.execute_update())

        return self._with_statement(run)

    def _with_statement(self, run: Callable[[Any], _R]) -> _R:
        import adbc_driver_manager as adbc

        statement = adbc.AdbcStatement(self._connection)
        try:
            return run(statement)
        finally:
            statement.close()


@contextmanager
def _low_level_connection(uri: str, *, sqlite: bool) -> Iterator[BulkConnection]:
    """A ``BulkConnection`` to the driver URI ``uri``, closed afterwards."""
    import adbc_driver_manager as adbc

    if sqlite:
        import adbc_driver_sqlite as driver
    else:
        import adbc_driver_postgresql as driver  # type: ignore[no-redef]
    database = driver.connect(uri)
    try:
        connection = adbc.AdbcConnection(database)
        try:
            yield BulkConnection(connection)
        finally:
            connection.close()
    finally:
        database.close()


@contextmanager
def _bulk_connection(url: str | URL) -> Iterator[BulkConnection]:
    """A ``BulkConnection`` to the project's database, with the engine's SQLite settings."""
    with _low_level_connection(driver_uri(url), sqlite=is_sqlite(url)) as bulk:
        if is_sqlite(url):
            for setting in _SQLITE_SETTINGS:
                bulk.execute(setting)
        yield bulk


@contextmanager
def arrow_transaction(url: str | URL) -> Iterator[BulkConnection]:
    """A low-level Arrow connection (``BulkConnection``) inside one write transaction:
    committed if the block succeeds, rolled back on any error, so a failure leaves the
    database exactly as it was.

    On SQLite the transaction begins IMMEDIATE (the write lock is taken up front, waiting
    up to the busy timeout for another writer); on PostgreSQL it is an ordinary BEGIN.
    """
    with _bulk_connection(url) as connection:
        connection.execute("BEGIN IMMEDIATE" if is_sqlite(url) else "BEGIN")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


@contextmanager
def arrow_snapshot(
    url: str | URL, count: int, first: Connection | None = None
) -> Iterator[list[Connection]]:
    """Up to ``count`` ADBC connections, each in a read transaction, that all see one
    snapshot of the database: reads split across them (in parallel threads) answer as
    one read would, even while another connection commits. Transactions are ended and
    the connections opened here closed afterwards; ``first``, an open autocommit
    connection to ``url`` (one that already looked at the data), is used as the first
    and left open.

    PostgreSQL: the first connection exports its REPEATABLE READ snapshot
    (``pg_export_snapshot``) and the others import it. SQLite has no such call here: the
    readers start their transactions while a watching connection's ``data_version`` shows
    that no commit landed in between (then they all read the same database state); after
    ``SNAPSHOT_TRIES`` interrupted tries a single connection is yielded, so the list may be
    shorter than ``count``. ``count`` 1 is one plain autocommit connection.
    """
    if count < 1:
        raise ValueError(f"count={count}: at least one connection")
    with ExitStack() as stack:
        if first is None:
            first = stack.enter_context(arrow_connection(url))
        if count == 1:
            yield [first]
            return
        connections = [first]
        connections += [stack.enter_context(arrow_connection(url)) for _ in range(count - 1)]
        if is_sqlite(url):
            watch = stack.enter_context(arrow_connection(url))
            connections = _sqlite_snapshot(watch, connections)
        else:
            _postgresql_snapshot(connections)
        try:
            yield connections
        finally:
            # Read-only transactions: ending them commits nothing. A connection whose
            # statement failed is closed as it is (closing ends its transaction).
            for connection in connections:
                _run_quietly(connection, "ROLLBACK")


def _execute(connection: Connection, sql: str) -> list[tuple[object, ...]]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def _run_quietly(connection: Connection, sql: str) -> None:
    # The connection is closed next, which ends its transaction anyway.
    with suppress(Exception):
        _execute(connection, sql)


def _postgresql_snapshot(connections: list[Connection]) -> None:
    begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    first, *others = connections
    _execute(first, begin)
    snapshot = str(_execute(first, "SELECT pg_export_snapshot()")[0][0])
    # The id comes from the server; checked all the same before it is put in SQL
    # (SET TRANSACTION SNAPSHOT takes no bound parameter).
    if not _PG_SNAPSHOT_ID.fullmatch(snapshot):
        raise RuntimeError(f"unexpected snapshot id from pg_export_snapshot: {snapshot!r}")
    for connection in others:
        _execute(connection, begin)
        _execute(connection, f"SET TRANSACTION SNAPSHOT '{snapshot}'")


def _sqlite_snapshot(watch: Connection, connections: list[Connection]) -> list[Connection]:
    for _ in range(SNAPSHOT_TRIES):
        before = _execute(watch, "PRAGMA data_version")
        for connection in connections:
            _execute(connection, "BEGIN")
            # The first read of a transaction fixes the state it sees.
            _execute(connection, "SELECT count(*) FROM sqlite_schema")
        if _execute(watch, "PRAGMA data_version") == before:
            return connections
        for connection in connections:
            _execute(connection, "ROLLBACK")
    # A writer kept committing: one reader, in a transaction like the others would be.
    first = connections[0]
    _execute(first, "BEGIN")
    return [first]


def write_sqlite_file(path: Path, table: str, batches: Any, schema: Sequence[str] = ()) -> None:
    """Write Arrow ``batches`` (a ``RecordBatchReader``) as ``table`` into a NEW private
    SQLite file at ``path``: prepared-statement batches in C, no Python per row.
    ``schema``: statements that create ``table`` (and its indexes) first; without them
    the driver creates it from the batches' schema.

    Not the project's database: a scratch file nobody else opens, so the caution above
    does not apply, and it needs neither a journal nor fsync (a crash loses only it).
    Through ``BulkConnection``, the driver's low-level API, as the imports' transactions.
    """
    if path.exists():
        raise FileExistsError(path)
    with _low_level_connection(str(path), sqlite=True) as connection:
        for statement in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", *schema):
            connection.execute(statement)
        connection.ingest(table, batches, mode="append" if schema else "create")
