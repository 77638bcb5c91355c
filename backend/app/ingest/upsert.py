"""Moving staged rows into their table: one ``INSERT ... SELECT ... ON CONFLICT``.

The natural key decides: a staged row whose key exists updates the stored row only
when its value differs, so re-importing a file changes nothing. Counts come from the
statement itself (``changes()`` and the table size on SQLite, ``xmax = 0`` on
PostgreSQL), so a dry run, which does the same work and rolls back, reports exactly
what a real run would do. Names are our own constants (``# noqa: S608``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.transaction import as_date


@dataclass(frozen=True)
class Move:
    """How staged rows map onto a table. Staging columns are named like the table's."""

    table: str
    id_column: str
    id_expression: str  # SQL over the staging row ``s``
    key: tuple[str, ...]  # the natural key (a unique constraint of ``table``)
    value: str  # the one non-key column that a re-import may change
    date_columns: frozenset[str] = field(default_factory=frozenset)

    def staged(self, connection: Connection, column: str) -> str:
        expression = f"s.{column}"
        return as_date(connection, expression) if column in self.date_columns else expression


def upsert(connection: Connection, staging: str, move: Move, result: ImportResult) -> None:
    columns = ", ".join((move.id_column, *move.key, move.value))
    selected = ", ".join(
        (move.id_expression, *(move.staged(connection, c) for c in (*move.key, move.value)))
    )
    conflict = ", ".join(move.key)
    statement = (
        f"INSERT INTO {move.table} ({columns}) SELECT {selected} FROM {staging} s "  # noqa: S608
        f"WHERE true ON CONFLICT ({conflict}) DO UPDATE SET {move.value} = excluded.{move.value} "
        f"WHERE {move.table}.{move.value} <> excluded.{move.value}"
    )
    staged = int(connection.execute(text(f"SELECT COUNT(*) FROM {staging}")).scalar_one())  # noqa: S608
    if connection.dialect.name == "postgresql":
        counted = (
            f"WITH moved AS ({statement} RETURNING (xmax = 0) AS inserted) "  # noqa: S608
            "SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM moved"
        )
        inserted, changed = connection.execute(text(counted)).one()
    else:
        count = text(f"SELECT COUNT(*) FROM {move.table}")  # noqa: S608
        before = int(connection.execute(count).scalar_one())
        changed = connection.execute(text(statement)).rowcount
        inserted = int(connection.execute(count).scalar_one()) - before
    result.inserted += int(inserted)
    result.updated += int(changed) - int(inserted)
    result.unchanged += staged - int(changed)


def delete_uncovered(
    connection: Connection,
    staging: str,
    move: Move,
    scope: str,
    parameters: dict[str, object],
) -> int:
    """``--replace``: delete rows of ``move.table`` within ``scope`` (SQL naming the table's
    columns as ``{table}.column``) whose key the staged file does not contain."""
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
