"""Moving staged rows into their table, set-based, keyed on the natural key.

The natural key decides: a staged row whose key exists updates the stored row only
when its value differs, so re-importing a file changes nothing. Counts come from the
statements' own row counts, so a dry run, which does the same work and rolls back,
reports exactly what a real run would do. Names are our own constants (``# noqa: S608``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.transaction import as_date
from backend.app.maintenance.integrity import GUARD_PREFIX


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


def upsert(
    connection: Connection,
    staging: str,
    move: Move,
    result: ImportResult,
    staged: int,
    *,
    check_duplicates: Callable[[], None] = lambda: None,
) -> None:
    """Move ``staged`` rows from ``staging`` into ``move.table``, counting what changed.

    When no staged key is stored yet (a first import) this is the plain
    ``INSERT ... SELECT`` the database's own loader would run; its unique index then
    refuses duplicate keys within the file. Otherwise changed values are updated
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
    # pages: on SQLite several times fewer page writes for a large file.
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
    result.inserted += inserted
    result.updated += updated
    result.unchanged += staged - inserted - updated


@contextmanager
def _insert_guards_set_aside(connection: Connection, table: str) -> Iterator[None]:
    """On SQLite, the guard triggers that refuse orphan inserts into ``table``
    (``maintenance/integrity.py``) are dropped for one bulk insert and recreated from
    their stored definitions right after, inside the import's transaction.

    They repeat, row by row, the check this connection's ``PRAGMA foreign_keys=ON``
    makes anyway; run twice they cost a quarter of a large import. No other connection
    sees the gap: the import holds the write lock, readers see the last commit, and a
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
