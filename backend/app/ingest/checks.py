"""Set-based validation: queries over the staging table that return offending lines.

Each check returns at most ``limit`` problems (lowest line numbers first) and the
total count, so a file with a million bad rows costs one query, not a million
Python lookups. Table and column names are our own constants (``# noqa: S608``).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, text

from backend.app.ingest.problems import Problem, ProblemLog
from backend.app.maintenance.bulk_move import any_orphan


def _collect(connection: Connection, log: ProblemLog, sql: str, column: str, message: str) -> None:
    """Run ``sql`` (selecting line, value, total) and add its rows to ``log``."""
    rows = connection.execute(text(sql), {"limit": log.limit}).all()
    if rows:
        found = [Problem(int(row[0]), column, message, str(row[1])) for row in rows]
        log.add_counted(found, int(rows[0][2]))


def unknown_references(
    connection: Connection,
    log: ProblemLog,
    staging: str,
    column: str,
    parent: str,
    parent_column: str,
    what: str,
    *,
    label: str | None = None,
    values: Collection[str] | None = None,
) -> None:
    """Lines whose ``column`` names no ``parent`` row. ``values``: the column's distinct
    staged values, if the caller gathered them while staging (no scan of the rows then)."""
    # Asked of the distinct values first: nearly every file then needs nothing more.
    if not any_orphan(connection, staging, column, parent, parent_column, values):
        return
    sql = (
        f"SELECT s.line, s.{column}, COUNT(*) OVER () FROM {staging} s "  # noqa: S608
        f"WHERE s.{column} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_column} = s.{column}) "
        "ORDER BY s.line LIMIT :limit"
    )
    _collect(connection, log, sql, label or column, f"unknown {what}")


def duplicate_keys(
    connection: Connection,
    log: ProblemLog,
    staging: str,
    key: tuple[str, ...],
    shown: str,
    what: str,
) -> None:
    """Every line after the first that repeats a key of the file."""
    columns = ", ".join(key)
    sql = (
        f"SELECT line, shown, COUNT(*) OVER () FROM ("  # noqa: S608
        f"SELECT line, {shown} AS shown, MIN(line) OVER (PARTITION BY {columns}) AS first_line "
        f"FROM {staging} WHERE {_complete(key)}) d "
        "WHERE line <> first_line ORDER BY line LIMIT :limit"
    )
    rows = connection.execute(text(sql), {"limit": log.limit}).all()
    if not rows:
        return
    firsts = _first_lines(connection, staging, key, [int(row[0]) for row in rows])
    found = [
        Problem(
            int(line),
            key[-1] if len(key) == 1 else "row",
            f"duplicate {what}, first on line {firsts.get(int(line), '?')}",
            str(value),
        )
        for line, value, _total in rows
    ]
    log.add_counted(found, int(rows[0][2]))


def _first_lines(
    connection: Connection, staging: str, key: tuple[str, ...], lines: list[int]
) -> dict[int, int]:
    """For each of ``lines``, the first line of the file with the same key."""
    join = " AND ".join(f"f.{name} = d.{name}" for name in key)
    sql = (
        f"SELECT d.line, MIN(f.line) FROM {staging} d JOIN {staging} f ON {join} "  # noqa: S608
        "WHERE d.line IN ({}) GROUP BY d.line"
    ).format(", ".join(str(int(line)) for line in lines))
    return {int(row[0]): int(row[1]) for row in connection.execute(text(sql))}


def has_duplicates(connection: Connection, staging: str, key: tuple[str, ...]) -> bool:
    """Cheap test first: are there fewer distinct keys than rows?"""
    columns = ", ".join(key)
    sql = (
        f"SELECT EXISTS (SELECT 1 FROM {staging} WHERE {_complete(key)} "  # noqa: S608
        f"GROUP BY {columns} HAVING COUNT(*) > 1)"
    )
    return bool(connection.execute(text(sql)).scalar())


def _complete(key: tuple[str, ...]) -> str:
    """Rows whose key parsed (a bad value is staged as NULL and reported already)."""
    return " AND ".join(f"{column} IS NOT NULL" for column in key)
