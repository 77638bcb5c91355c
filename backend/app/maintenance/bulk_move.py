"""Bulk writes by key: stage typed rows in a TEMP table, then move them into their table.

One job, shared by every bulk writer (the importer's files and the write API's batch
calls), so both store the same rows the same way:

- staging: SQLite binds the rows with ``executemany`` on the driver connection (one C
  loop, fed by a generator); PostgreSQL streams them with ``COPY ... FROM STDIN`` and
  then runs ``ANALYZE`` (temp tables are never auto-analyzed).
- the move: set-based, keyed on the natural key. A staged row whose key exists updates
  the stored row only when its value differs, so writing the same rows twice changes
  nothing. Counts come from the statements' own row counts.

Everything runs in the caller's transaction: a failure rolls it all back. Table and
column names here are our own constants, never taken from input (``# noqa: S608``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

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
) -> Moved:
    """Move ``staged`` rows from ``staging`` into ``move.table``, counting what changed.

    When no staged key is stored yet (a first write) this is the plain
    ``INSERT ... SELECT`` the database's own loader would run; its unique index then
    refuses duplicate keys among the staged rows. Otherwise changed values are updated
    (``UPDATE ... FROM``), new keys inserted (``INSERT ... WHERE NOT EXISTS``) and
    ``check_duplicates`` runs first, since an ``UPDATE ... FROM`` would not notice them.
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
    # An empty table holds none of the keys: no need to probe it once per staged row.
    stored = (
        connection.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {move.table})")  # noqa: S608
        ).scalar()
        and connection.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {staging} s JOIN {move.table} ON {match})")  # noqa: S608
        ).scalar()
    )
    updated = 0
    if not stored:
        with _insert_guards_set_aside(connection, move.table):
            inserted = connection.execute(text(insert + in_key_order)).rowcount
    else:
        check_duplicates()
        updated = connection.execute(
            text(
                f"UPDATE {move.table} SET {move.value} = s.{move.value} "  # noqa: S608
                f"FROM {staging} s WHERE {match} AND {move.table}.{move.value} <> s.{move.value}"
            )
        ).rowcount
        with _insert_guards_set_aside(connection, move.table):
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
def _insert_guards_set_aside(connection: Connection, table: str) -> Iterator[None]:
    """On SQLite, the guard triggers that refuse orphan inserts into ``table``
    (``maintenance/integrity.py``) are dropped for one bulk insert and recreated from
    their stored definitions right after, inside the caller's transaction.

    They repeat, row by row, the check this connection's ``PRAGMA foreign_keys=ON``
    makes anyway; run twice they cost a quarter of a large import. No other connection
    sees the gap: the writer holds the write lock, readers see the last commit, and a
    failure rolls the drop back with everything else.
    """
    if (
        connection.dialect.name != "sqlite"
        or not connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    ):
        yield
        return
    triggers = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"),
        {"table": table},
    ).all()
    guards = [
        (str(name), str(sql))
        for name, sql in triggers
        if str(name).startswith(GUARD_PREFIX) and str(name).endswith("_insert")
    ]
    for name, _sql in guards:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _name, sql in guards:
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
        connection.exec_driver_sql(
            f"CREATE INDEX temp.ix_{staging}_key ON {staging} ({', '.join(move.key)})"
        )
    match = " AND ".join(
        f"{move.staged(connection, column)} = {move.table}.{column}" for column in move.key
    )
    statement = (
        f"DELETE FROM {move.table} WHERE {scope} "  # noqa: S608
        f"AND NOT EXISTS (SELECT 1 FROM {staging} s WHERE {match})"
    )
    return int(connection.execute(text(statement), parameters).rowcount)
