"""``ffdb stats``: how much a database holds and where it is."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, func, select

from backend.app import models  # noqa: F401  (registers every table on Base.metadata)
from backend.app.database.base import Base


def table_names() -> list[str]:
    """The schema's tables, parents before children."""
    return [t.name for t in Base.metadata.sorted_tables]


def count_rows(connection: Connection, table_name: str) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(Base.metadata.tables[table_name])
        ).scalar_one()
    )


def sqlite_files(database: str | None) -> list[Path]:
    """The main file and the WAL beside it (the WAL holds committed pages not yet copied)."""
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return []
    main = Path(database)
    return [path for path in (main, Path(f"{database}-wal")) if path.exists()]


def database_size(connection: Connection) -> int | None:
    """Bytes on disk (SQLite: file plus WAL; PostgreSQL: pg_database_size), if known."""
    if connection.dialect.name == "sqlite":
        files = sqlite_files(connection.engine.url.database)
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
