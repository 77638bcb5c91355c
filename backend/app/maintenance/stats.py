"""``ffdb stats``: how much a database holds and where it is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, Table, func, select
from sqlalchemy import table as table_clause
from sqlalchemy.engine import URL

from backend.app.database.db import sqlite_file
from backend.app.maintenance.head_schema import table_names as table_names


def count_rows(connection: Connection, table: str | Table) -> int:
    # A name needs no model: a bare table clause, quoted by the dialect.
    source = table_clause(table) if isinstance(table, str) else table
    return int(connection.execute(select(func.count()).select_from(source)).scalar_one())


def row_counts(connection: Connection, tables: Sequence[Table]) -> dict[str, int]:
    """Rows in each of ``tables``, by name, in the order given."""
    return {table.name: count_rows(connection, table) for table in tables}


def sqlite_files(url: str | URL) -> list[Path]:
    """The main file and the WAL beside it (the WAL holds committed pages not yet copied)."""
    main = sqlite_file(url)
    if main is None:
        return []
    return [path for path in (main, Path(f"{main}-wal")) if path.exists()]


def database_size(connection: Connection) -> int | None:
    """Bytes on disk (SQLite: file plus WAL; PostgreSQL: pg_database_size), if known."""
    if connection.dialect.name == "sqlite":
        files = sqlite_files(connection.engine.url)
        return sum(path.stat().st_size for path in files) if files else None
    if connection.dialect.name == "postgresql":
        size = connection.execute(select(func.pg_database_size(func.current_database())))
        return int(size.scalar_one())
    return None


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - loop always returns
