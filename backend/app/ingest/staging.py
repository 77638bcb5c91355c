"""Bulk writers: stream rows into a TEMP staging table, one writer per backend.

- SQLite: ``executemany`` on the driver connection, fed by a generator, so the rows
  go from the CSV reader to the table in one C loop without piling up in memory.
- PostgreSQL: ``COPY ... FROM STDIN`` through psycopg 3, then ``ANALYZE`` so the
  planner sees the staged row count (temp tables are never auto-analyzed).

Both run inside the import's own transaction: a rejected file leaves nothing behind.
Table and column names here are our own constants, never taken from the input file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

# A staged row: line number first, then the staging table's columns (None: bad value).
StagedRow = tuple[int | str | None, ...]
# (name, type) where type is "int" or "text".
Columns = Sequence[tuple[str, str]]
_TYPES = {
    "sqlite": {"int": "INTEGER", "text": "TEXT"},
    "postgresql": {"int": "BIGINT", "text": "TEXT"},
}


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
