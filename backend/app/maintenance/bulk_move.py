"""Bulk writes by key: stage typed rows in a TEMP table, then move them into their table.

One job, shared by every bulk writer (the importer's files and the write API's batch
calls), so both store the same rows the same way:

- staging: SQLite binds the rows with ``executemany`` on the driver connection (one C
  loop, fed by a generator), or, for Arrow batches, has the Arrow driver write them
  into a scratch file that the connection attaches (``load_staging_file``); PostgreSQL
  streams them with ``COPY ... FROM STDIN`` and then runs ``ANALYZE`` (temp tables are
  never auto-analyzed).
- the move: set-based, keyed on the natural key. A staged row whose key exists updates
  the stored row only when its value differs, so writing the same rows twice changes
  nothing. Counts come from the statements' own row counts. A large insert on SQLite
  rebuilds the secondary indexes afterwards, and skips the per-row checks the caller
  has proven set-based (CHECKs, foreign keys): see ``upsert``.

Everything runs in the caller's transaction: a failure rolls it all back. Table and
column names here are our own constants, never taken from input (``# noqa: S608``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError

from backend.app.maintenance.integrity import GUARD_PREFIX

# A staged row: the staging table's columns in order (None: a bad value).
StagedRow = tuple[int | str | None, ...]
# (name, type) where type is "int" or "text".
Columns = Sequence[tuple[str, str]]
_TYPES = {
    "sqlite": {"int": "INTEGER", "text": "TEXT"},
    "postgresql": {"int": "BIGINT", "text": "TEXT"},
}


# --- staging ----------------------------------------------------------------------------


def create_staging(connection: Connection, table: str, columns: Columns) -> None:
    dialect = connection.dialect.name
    types = _TYPES[dialect]
    body = ", ".join(f"{name} {types[kind]}" for name, kind in columns)
    if dialect == "sqlite":
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")
        connection.exec_driver_sql(f"CREATE TEMP TABLE {table} ({body})")
    else:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{table}")
        connection.exec_driver_sql(f"CREATE TEMP TABLE {table} ({body}) ON COMMIT DROP")


def drop_staging(connection: Connection, table: str) -> None:
    schema = "temp" if connection.dialect.name == "sqlite" else "pg_temp"
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{table}")


def load_staging(
    connection: Connection, table: str, columns: Columns, rows: Iterable[Sequence[Any]]
) -> None:
    """Stream ``rows`` into ``table`` with the backend's bulk path."""
    names = ", ".join(name for name, _ in columns)
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO temp.{table} ({names}) VALUES ({marks})"  # noqa: S608
        driver.executemany(insert, rows)
        return
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        cursor.execute(f"ANALYZE {table}")


def load_staging_batches(
    connection: Connection, table: str, columns: Columns, batches: Iterable[Sequence[Any]]
) -> int:
    """Stream Arrow batches (one array per staging column, in order) into ``table``;
    returns how many rows. SQLite binds them in one ``executemany`` per batch; on
    PostgreSQL pyarrow writes each batch as CSV for ``COPY`` (no Python loop per row)."""
    names = ", ".join(name for name, _ in columns)
    driver: Any = connection.connection.driver_connection
    staged = 0
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO temp.{table} ({names}) VALUES ({marks})"  # noqa: S608
        for arrays in batches:
            driver.executemany(insert, zip(*(array.to_pylist() for array in arrays), strict=True))
            staged += len(arrays[0])
        return staged
    import pyarrow as pa
    import pyarrow.csv as pv

    options = pv.WriteOptions(include_header=False)
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            for arrays in batches:
                sink = pa.BufferOutputStream()
                pv.write_csv(pa.table(list(arrays), names=[n for n, _ in columns]), sink, options)
                copy.write(memoryview(sink.getvalue()))
                staged += len(arrays[0])
        cursor.execute(f"ANALYZE {table}")
    return staged


# An attached staging file is the schema ``{table}{STAGED_FILE_SUFFIX}``.
STAGED_FILE_SUFFIX = "_file"
_SCRATCH_PREFIX = "ffdb-stage-"  # the directory each staging file gets, deleted with it


class StagingRefused(Exception):
    """The staging file's unique key refused a row: the file repeats a key."""


def load_staging_file(
    connection: Connection,
    table: str,
    columns: Columns,
    batches: Iterable[Sequence[Any]],
    *,
    unique: tuple[str, ...] = (),
) -> int:
    """SQLite: stream Arrow batches (one array per staging column, in order) into a
    scratch SQLite file through the Arrow driver, in C, and attach it to ``connection``,
    so that ``table`` (unqualified) names the staged rows as a TEMP table would; returns
    how many rows. ``executemany`` would turn every value into a Python object first,
    several times slower. Nothing is attached if ``batches`` raises (the file is gone).

    The file is read, never written, by the import; ``detach_staging_files`` (after the
    transaction ends: SQLite cannot detach inside one) drops it.

    ``unique``: columns no two staged rows may share; a repeat raises ``StagingRefused``
    (cheaper kept while writing, rows mostly arriving in key order, than a GROUP BY).
    """
    import pyarrow as pa

    from backend.app.database.arrow import write_sqlite_file

    types = {"int": pa.int64(), "text": pa.string()}
    schema = pa.schema([(name, types[kind]) for name, kind in columns])
    staged = 0
    failure: list[BaseException] = []
    source = iter(batches)

    def record_batches() -> Iterator[Any]:
        nonlocal staged
        try:
            for arrays in source:
                staged += len(arrays[0])
                yield pa.RecordBatch.from_arrays(list(arrays), schema=schema)
        except BaseException as error:
            failure.append(error)  # the driver reports it as its own error
            raise

    directory = Path(tempfile.mkdtemp(prefix=_SCRATCH_PREFIX))
    path = directory / f"{table}.db"
    # Declared, not left to the driver: the same column types as a TEMP staging table's.
    body = ", ".join(f"{name} {_TYPES['sqlite'][kind]}" for name, kind in columns)
    key = f", UNIQUE ({', '.join(unique)})" if unique else ""
    create = [f"CREATE TABLE {table} ({body}{key})"]
    try:
        write_sqlite_file(
            path, table, pa.RecordBatchReader.from_batches(schema, record_batches()), create
        )
    except BaseException as error:
        shutil.rmtree(directory, ignore_errors=True)
        # The driver stopped reading mid-file: close the reader now (its file, its
        # progress) rather than whenever the collector finds it.
        close = getattr(source, "close", None)
        if close is not None:
            close()
        if failure:
            raise failure[0] from None
        if unique and "UNIQUE constraint failed" in str(error):
            raise StagingRefused(str(error)) from None
        raise
    drop_staging(connection, table)  # a TEMP table of that name would hide the file's
    connection.exec_driver_sql("ATTACH DATABASE ? AS " + table + STAGED_FILE_SUFFIX, (str(path),))
    return staged


def detach_staging_files(connection: Connection) -> None:
    """Detach and delete the staging files ``load_staging_file`` attached (outside any
    transaction)."""
    if connection.dialect.name != "sqlite":
        return
    driver: Any = connection.connection.driver_connection
    for name, directory in _attached_staging(driver):
        driver.execute(f'DETACH DATABASE "{name}"')
        shutil.rmtree(directory, ignore_errors=True)


def _attached_staging(driver: Any) -> list[tuple[str, str]]:
    """(schema name, scratch directory) of each staging file attached to the SQLite
    driver connection ``driver``."""
    return [
        (str(name), str(Path(file).parent))
        for _seq, name, file in driver.execute("PRAGMA database_list").fetchall()
        if str(name).endswith(STAGED_FILE_SUFFIX)
        and Path(file).parent.name.startswith(_SCRATCH_PREFIX)
    ]


def staging_schema(connection: Connection, table: str) -> str:
    """The schema holding staging ``table``: its attached file's, else the TEMP one."""
    if connection.dialect.name != "sqlite":
        return "pg_temp"
    attached = {str(row[1]) for row in connection.exec_driver_sql("PRAGMA database_list")}
    return table + STAGED_FILE_SUFFIX if table + STAGED_FILE_SUFFIX in attached else "temp"


def as_date(connection: Connection, expression: str) -> str:
    """SQL turning ISO date text into the dialect's date value (SQLite stores the text)."""
    if connection.dialect.name == "sqlite":
        return expression
    return f"CAST({expression} AS DATE)"


# --- the move ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """How staged rows map onto a table. Staging columns are named like the table's."""

    table: str
    id_column: str
    id_expression: str  # SQL over the staging row ``s``
    key: tuple[str, ...]  # the natural key (a unique constraint of ``table``)
    value: str  # the one non-key column that a second write may change
    date_columns: frozenset[str] = field(default_factory=frozenset)

    def staged(self, connection: Connection, column: str) -> str:
        expression = f"s.{column}"
        return as_date(connection, expression) if column in self.date_columns else expression


# The tables written by key, whoever stages their rows (importer or write API).
HISTORICAL_SALES_MOVE = Move(
    table="historical_sales",
    id_column="sale_id",
    id_expression="s.sale_id",
    key=("store_id", "category_id", "week_start_date"),
    value="units_sold",
    date_columns=frozenset({"week_start_date"}),
)
ACTUAL_SALES_MOVE = Move(
    table="actual_sales",
    id_column="actual_id",
    id_expression="s.actual_id",
    key=("forecast_id", "store_id", "week_number"),
    value="units_sold",
)

# The CHECKs of each table that the column paths (a plain file's blocks, the write API's
# large batches) prove for every row: the key rule on each id, units not negative, and
# for actuals every week within 1..12 (``ACTUAL_SALES_WEEK_CHECK``, proven apart). The
# move then need not evaluate them row by row (``upsert``'s ``checked``).
HISTORICAL_SALES_PROVEN = frozenset(
    f"ck_historical_sales_{name}"
    for name in ("units_sold", "sale_id_length", "store_id_length", "category_id_length")
)
ACTUAL_SALES_WEEK_CHECK = "ck_actual_sales_week_number"
ACTUAL_SALES_PROVEN = frozenset(
    f"ck_actual_sales_{name}"
    for name in ("actual_id_length", "store_id_length", "forecast_id_length", "units_sold")
) | {ACTUAL_SALES_WEEK_CHECK}


def actuals_stored(connection: Connection, forecast_id: str) -> bool:
    """Whether the forecast has actual sales stored: if not, no staged key of its is
    (the forecast is part of the key), and ``upsert(none_stored=True)`` may say so."""
    return bool(
        connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM actual_sales WHERE forecast_id = :forecast_id)"),
            {"forecast_id": forecast_id},
        ).scalar()
    )


@dataclass(frozen=True)
class Moved:
    """What a move did to the table, of the rows staged."""

    inserted: int
    updated: int
    unchanged: int


def upsert(
    connection: Connection,
    staging: str,
    move: Move,
    staged: int,
    *,
    check_duplicates: Callable[[], None] = lambda: None,
    checked: Collection[str] = frozenset(),
    parents_found: Collection[str] = frozenset(),
    parent_values: Mapping[str, Collection[str]] | None = None,
    none_stored: bool = False,
) -> Moved:
    """Move ``staged`` rows from ``staging`` into ``move.table``, counting what changed.

    When no staged key is stored yet (a first write) this is the plain
    ``INSERT ... SELECT`` the database's own loader would run; its unique index then
    refuses duplicate keys among the staged rows. Otherwise changed values are updated
    (``UPDATE ... FROM``), new keys inserted (``INSERT ... WHERE NOT EXISTS``) and
    ``check_duplicates`` runs first, since an ``UPDATE ... FROM`` would not notice them.

    ``checked`` names CHECK constraints of the table that the caller proved every staged
    row passes (the Arrow paths check whole columns): when it covers them all, SQLite
    does not evaluate them again row by row on the insert (``_checks_proven``).

    ``parents_found`` names foreign-key columns for which the caller has already found a
    parent row of every staged value (its set-based checks, in this transaction): the
    insert's guards need not look for them again (``_insert_guards_set_aside``).
    ``parent_values``: the distinct staged values of some foreign-key columns, gathered
    by the caller as it staged them; their parents are then looked up from these, not
    from a scan of every staged row.

    ``none_stored``: the caller knows no staged key is stored yet (actuals of a forecast
    that has none): the plain insert runs at once, without a savepoint around it, whose
    journal of every stored page the insert touches costs seconds on a large table.
    """
    match = " AND ".join(
        f"{move.table}.{column} = {move.staged(connection, column)}" for column in move.key
    )
    columns = ", ".join((move.id_column, *move.key, move.value))
    selected = ", ".join(
        (move.id_expression, *(move.staged(connection, c) for c in (*move.key, move.value)))
    )
    insert = f"INSERT INTO {move.table} ({columns}) SELECT {selected} FROM {staging} s"  # noqa: S608
    # In primary-key order the table's B-trees grow at their ends instead of at random
    # pages: on SQLite several times fewer page writes for a large batch.
    in_key_order = " ORDER BY 1" if connection.dialect.name == "sqlite" else ""

    def plain_insert() -> int:
        with (
            _foreign_keys_set_aside_for(connection, move.table, staged),
            _insert_guards_set_aside(connection, move.table, staging, parents_found, parent_values),
            _indexes_rebuilt(connection, move.table, staged),
            _checks_proven(connection, move.table, checked),
        ):
            return int(connection.execute(text(insert + in_key_order)).rowcount)

    updated = 0
    # An empty table holds none of the keys: no need to probe it once per staged row.
    stored = (
        not none_stored
        and connection.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {move.table})")  # noqa: S608
        ).scalar()
    )
    if stored and connection.dialect.name == "sqlite":
        # The probe below is one random index lookup per staged row, the plain insert's
        # writes are in key order: the insert is tried first, its unique index stopping
        # it at the first stored key (the savepoint undoes the rows before it).
        attempt = connection.begin_nested()
        try:
            inserted = plain_insert()
        except IntegrityError:
            attempt.rollback()
        else:
            attempt.commit()
            return Moved(inserted, 0, staged - inserted)
    elif stored:
        stored = connection.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {staging} s JOIN {move.table} ON {match})")  # noqa: S608
        ).scalar()
    if not stored:
        inserted = plain_insert()
    else:
        check_duplicates()
        updated = connection.execute(
            text(
                f"UPDATE {move.table} SET {move.value} = s.{move.value} "  # noqa: S608
                f"FROM {staging} s WHERE {match} AND {move.table}.{move.value} <> s.{move.value}"
            )
        ).rowcount
        with (
            _insert_guards_set_aside(connection, move.table, staging, parents_found, parent_values),
            _indexes_rebuilt(connection, move.table, staged),
            _checks_proven(connection, move.table, checked),
        ):
            inserted = connection.execute(
                text(
                    f"{insert} WHERE NOT EXISTS (SELECT 1 FROM {move.table} WHERE {match})"  # noqa: S608
                    + in_key_order
                )
            ).rowcount
    return Moved(inserted, updated, staged - inserted - updated)


def stage_and_upsert(
    connection: Connection, staging: str, columns: Columns, rows: Sequence[StagedRow], move: Move
) -> Moved:
    """Stage ``rows`` (already checked; one per key) and move them into ``move.table``;
    the staging table is gone afterwards."""
    create_staging(connection, staging, columns)
    load_staging(connection, staging, columns, rows)
    moved = upsert(connection, staging, move, len(rows))
    drop_staging(connection, staging)
    return moved


@contextmanager
def _insert_guards_set_aside(
    connection: Connection,
    table: str,
    staging: str,
    parents_found: Collection[str] = (),
    parent_values: Mapping[str, Collection[str]] | None = None,
) -> Iterator[None]:
    """On SQLite, the guard triggers that refuse orphan inserts into ``table``
    (``maintenance/integrity.py``) are dropped for one bulk insert and recreated from
    their stored definitions right after, inside the caller's transaction.

    Either this connection's ``PRAGMA foreign_keys=ON`` checks every row anyway (run
    twice, the checks cost a quarter of a large import), or, with the pragma off (the
    importers: ``ingest/transaction.py``), one query per foreign key has just found a
    parent for every distinct staged value (a row-by-row check costs several times
    more; the columns in ``parents_found`` the caller's checks already covered);
    otherwise the guards stay and refuse the orphans. No other connection sees
    the gap: the writer holds the write lock, readers see the last commit, and a failure
    rolls the drop back with everything else.
    """
    if connection.dialect.name != "sqlite" or not (
        connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        or _parents_present(connection, table, staging, parents_found, parent_values or {})
    ):
        yield
        return
    guards = [
        (name, sql)
        for name, sql in _stored_sql(connection, "trigger", table)
        if name.startswith(GUARD_PREFIX) and name.endswith("_insert")
    ]
    with _recreated_after(connection, "TRIGGER", guards):
        yield


# A statement's rows: how ``foreign_keys_set_aside`` runs SQL on either kind of connection.
Execute = Callable[[str], Sequence[tuple[Any, ...]]]
LOCK_WAIT_MS = 2000  # for the lock that setting foreign keys aside needs


@contextmanager
def foreign_keys_set_aside(execute: Execute, table: str) -> Iterator[bool]:
    """PostgreSQL: into an empty ``table``, its foreign keys are dropped for the block's
    bulk insert and added back from their stored definitions right after it, in the same
    transaction: the server then checks every row against its parents in one join,
    instead of one lookup per row, nearly half of a large load's time (1,000,000 history
    rows by psql: 19 s with the keys, 10.5 s without them and adding them back).
    pg_restore loads the same way. A missing parent fails the ADD, and the transaction
    rolls back as the insert's own check would have made it; the catalogue ends as it
    began.

    Dropping a key locks ``table`` (ACCESS EXCLUSIVE) and its parents against writes
    until the commit: done only for an empty table, and only if granted within
    ``LOCK_WAIT_MS`` (a reader holding the table keeps the per-row checks). Yields
    whether the keys were set aside. ``execute`` runs one statement and returns its rows.
    """
    (empty,) = execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")  # noqa: S608
    keys = execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "  # noqa: S608
        f"WHERE conrelid = '{table}'::regclass AND contype = 'f' ORDER BY conname"
    )
    if not empty[0] or not keys:
        yield False
        return
    execute("SAVEPOINT ffdb_foreign_keys")
    execute(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
    try:
        for name, _definition in keys:
            execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    except Exception:
        # Not granted in time, or not allowed: the keys stay (the rollback to the
        # savepoint also undoes the lock timeout).
        execute("ROLLBACK TO SAVEPOINT ffdb_foreign_keys")
        yield False
        return
    execute("SET LOCAL lock_timeout = DEFAULT")
    yield True
    for name, definition in keys:
        # Both from the server's own catalogue, not from input.
        execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


@contextmanager
def _foreign_keys_set_aside_for(connection: Connection, table: str, staged: int) -> Iterator[None]:
    """``foreign_keys_set_aside`` around a large insert on PostgreSQL (from
    ``REBUILD_MIN_ROWS`` staged rows: a small write keeps the table open to readers)."""
    if connection.dialect.name != "postgresql" or staged < REBUILD_MIN_ROWS:
        yield
        return

    def execute(sql: str) -> Sequence[tuple[Any, ...]]:
        result = connection.exec_driver_sql(sql)
        return [tuple(row) for row in result] if result.returns_rows else []

    with foreign_keys_set_aside(execute, table):
        yield


def _parents_present(
    connection: Connection,
    table: str,
    staging: str,
    parents_found: Collection[str],
    parent_values: Mapping[str, Collection[str]],
) -> bool:
    """Whether every staged value of each foreign key of ``table`` has its parent row
    (``parents_found``: columns known to, from the caller's own checks)."""
    import backend.app.models  # noqa: F401  (every table on the metadata)
    from backend.app.database.base import Base

    for foreign_key in Base.metadata.tables[table].foreign_keys:
        column, parent = foreign_key.parent.name, foreign_key.column
        if column in parents_found:
            continue
        if any_orphan(
            connection, staging, column, parent.table.name, parent.name, parent_values.get(column)
        ):
            return False
    return True


def any_orphan(
    connection: Connection,
    staging: str,
    column: str,
    parent: str,
    parent_column: str,
    values: Collection[str] | None = None,
) -> bool:
    """Whether a staged ``column`` value names no ``parent`` row. Asked of the distinct
    values (a file names few parents: one lookup each, not one per row): ``values``, if
    the caller gathered them while staging, else those of the staged rows."""
    with (
        nullcontext(f"(SELECT DISTINCT {column} AS v FROM {staging})")  # noqa: S608
        if values is None
        else values_table(connection, values)
    ) as distinct:
        return bool(
            connection.exec_driver_sql(
                f"SELECT EXISTS (SELECT 1 FROM {distinct} s "  # noqa: S608
                f"WHERE s.v IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p "
                f"WHERE p.{parent_column} = s.v))"
            ).scalar()
        )


_VALUES = "ffdb_stage_values"


@contextmanager
def values_table(connection: Connection, values: Iterable[str]) -> Iterator[str]:
    """A TEMP table (one column ``v``) of distinct ``values`` a caller gathered while
    staging, named for the block and dropped after it: a set-based question about them
    (are their parents there?) then reads a few thousand values at most, instead of
    scanning and sorting every staged row for them."""
    create_staging(connection, _VALUES, (("v", "text"),))
    load_staging(connection, _VALUES, (("v", "text"),), ((value,) for value in values))
    yield ("temp." if connection.dialect.name == "sqlite" else "pg_temp.") + _VALUES
    drop_staging(connection, _VALUES)


@contextmanager
def _checks_proven(connection: Connection, table: str, checked: Collection[str]) -> Iterator[None]:
    """On SQLite, a bulk insert whose rows the caller proved to pass every CHECK
    constraint of ``table`` runs with ``PRAGMA ignore_check_constraints``: the key rule's
    CHECK (``models/keys.py``) costs more per row than the insert itself. The proof must
    name each CHECK the model declares, so a CHECK added later is evaluated again until
    the fast paths prove it too. NOT NULL, UNIQUE and the foreign keys still apply."""
    from sqlalchemy import CheckConstraint

    import backend.app.models  # noqa: F401  (every table on the metadata)
    from backend.app.database.base import Base

    declared = {
        str(constraint.name)
        for constraint in Base.metadata.tables[table].constraints
        if isinstance(constraint, CheckConstraint)
    }
    if connection.dialect.name != "sqlite" or not declared <= set(checked):
        yield
        return
    connection.exec_driver_sql("PRAGMA ignore_check_constraints=ON")
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA ignore_check_constraints=OFF")


# Below this many staged rows an insert keeps the indexes: too small to pay for a
# rebuild, and small writes (the write API, a week of actuals) leave the schema alone.
REBUILD_MIN_ROWS = 50_000


@contextmanager
def _indexes_rebuilt(connection: Connection, table: str, staged: int) -> Iterator[None]:
    """On SQLite, the secondary indexes of ``table`` (those with stored SQL: not the
    primary key's or unique constraints', which refuse bad rows) are dropped for one
    large insert and recreated from their stored SQL after it, in the caller's
    transaction: a failure rolls the drop back, and the schema stays byte-identical.

    The rule: rebuild when the staged rows outnumber the stored ones four to one.
    Rows arrive in primary-key order, so these indexes (on dates, categories) receive
    them out of order, each insert touching its own page, while ``CREATE INDEX`` sorts
    all entries once and writes pages in order. Measured on 1M rows (2 cores): into an
    empty table the rebuild saves a quarter to a half of the move; into a table already
    holding as many rows it costs more than it saves (it re-sorts every stored entry,
    while the new ones land at a few places of each index: later weeks, another
    forecast).
    """
    if connection.dialect.name != "sqlite" or staged < REBUILD_MIN_ROWS:
        yield
        return
    # The largest rowid: an upper bound on the row count, read from the end of the
    # table's B-tree (COUNT(*) would scan an index).
    stored = connection.execute(text(f"SELECT MAX(rowid) FROM {table}")).scalar() or 0  # noqa: S608
    if 4 * stored > staged:
        yield
        return
    with _recreated_after(connection, "INDEX", _stored_sql(connection, "index", table)):
        yield


def _stored_sql(connection: Connection, kind: str, table: str) -> list[tuple[str, str]]:
    """(name, stored SQL) of each ``kind`` ('index', 'trigger') of ``table`` that has
    SQL of its own (not the primary key's or unique constraints' automatic indexes)."""
    return [
        (str(name), str(sql))
        for name, sql in connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = :kind "
                "AND tbl_name = :table AND sql IS NOT NULL ORDER BY name"
            ),
            {"kind": kind, "table": table},
        ).all()
    ]


@contextmanager
def _recreated_after(
    connection: Connection, kind: str, objects: list[tuple[str, str]]
) -> Iterator[None]:
    """Drop ``objects`` (name, stored SQL) for the block, then recreate each from its
    own SQL, so the schema is byte-identical afterwards; all in the caller's transaction."""
    for name, _sql in objects:
        connection.exec_driver_sql(f'DROP {kind} "{name}"')
    yield
    for _name, sql in objects:
        connection.exec_driver_sql(sql)


def delete_uncovered(
    connection: Connection,
    staging: str,
    move: Move,
    scope: str,
    parameters: dict[str, object],
) -> int:
    """Replacing: delete rows of ``move.table`` within ``scope`` (SQL naming the table's
    columns as ``{table}.column``) whose key the staged rows do not contain."""
    if connection.dialect.name == "sqlite":
        # The anti-join below probes the staging table once per candidate row.
        schema = staging_schema(connection, staging)
        connection.exec_driver_sql(
            f"CREATE INDEX {schema}.ix_{staging}_key ON {staging} ({', '.join(move.key)})"
        )
    match = " AND ".join(
        f"{move.staged(connection, column)} = {move.table}.{column}" for column in move.key
    )
    statement = (
        f"DELETE FROM {move.table} WHERE {scope} "  # noqa: S608
        f"AND NOT EXISTS (SELECT 1 FROM {staging} s WHERE {match})"
    )
    return int(connection.execute(text(statement), parameters).rowcount)


# --- staging files of a transaction the caller owns -------------------------------------

_ATTACHED_STAGING = "ffdb_staging_files"  # the pool record's note: directories attached


def detach_staging_files_when_returned(connection: Connection) -> None:
    """Detach and delete the staging files ``load_staging_file`` attached to
    ``connection`` once its transaction has ended, for a writer that does not own the
    transaction (the write API runs in the caller's ``Session``, which commits or rolls
    back later): when the pool takes the connection back, after that commit or rollback.
    A connection the pool invalidated is closed instead; its files are deleted then."""
    if connection.dialect.name != "sqlite":
        return
    driver: Any = connection.connection.driver_connection
    directories = {directory for _name, directory in _attached_staging(driver)}
    # The record's own note, kept when the pool invalidates the DBAPI connection (``info``
    # is cleared then), so the files are deleted whatever happens to it.
    noted = connection.connection.record_info
    if noted is None:  # a connection detached from its pool: never checked in
        return
    noted.setdefault(_ATTACHED_STAGING, set()).update(directories)
    pool = connection.engine.pool
    if not event.contains(pool, "checkin", _detach_at_checkin):
        event.listen(pool, "checkin", _detach_at_checkin)


def _detach_at_checkin(driver: Any, record: Any) -> None:
    noted = record.record_info if record is not None else None
    if noted is None or not noted.get(_ATTACHED_STAGING):
        return
    directories = noted[_ATTACHED_STAGING]
    if driver is not None:
        if driver.in_transaction:  # not reset on return: SQLite cannot detach yet
            return
        for name, directory in _attached_staging(driver):
            if directory in directories:
                driver.execute(f'DETACH DATABASE "{name}"')
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
    del noted[_ATTACHED_STAGING]
