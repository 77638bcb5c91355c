"""Foreign keys that no SQLite client can bypass.

SQLite enforces a FOREIGN KEY only on connections that ran ``PRAGMA foreign_keys=ON``;
the ``sqlite3`` CLI and most tools do not. So for every foreign key the database
declares we keep four triggers that refuse the same rows whatever the pragma says:
an orphan insert, an update to an orphan, deleting a referenced parent and changing a
referenced parent key (no cascades, as the story says).

The triggers are derived from the foreign keys the database itself declares, not
from the models, so they follow every migration: ``env.py`` drops them before a
migration runs (table rebuilds would trip over them) and rebuilds them afterwards.
``missing_guards`` tells ``ffdb check`` when they are not all there or not as they
should be (a stale definition, e.g. after a hand-made ``ALTER TABLE``), and
``stray_guards`` names guards left over for a foreign key that no longer exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.engine import Dialect

GUARD_PREFIX = "ffdb_fk_"


@dataclass(frozen=True)
class ForeignKey:
    table: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.table}_{'_'.join(self.columns)}"

    def describe(self) -> str:
        child = ", ".join(f"{self.table}.{c}" for c in self.columns)
        parent = ", ".join(f"{self.parent}.{c}" for c in self.parent_columns)
        return f"{child} -> {parent}"


def declared_foreign_keys(connection: Connection) -> list[ForeignKey]:
    """Every foreign key the database declares, read from its own catalogue."""
    inspector = inspect(connection)
    keys = []
    for table in sorted(inspector.get_table_names()):
        if table.startswith("_alembic_tmp_"):
            continue
        for fk in inspector.get_foreign_keys(table):
            keys.append(
                ForeignKey(
                    table=table,
                    columns=tuple(fk["constrained_columns"]),
                    parent=fk["referred_table"],
                    parent_columns=tuple(fk["referred_columns"]),
                )
            )
    return keys


def metadata_foreign_keys(metadata: MetaData) -> list[ForeignKey]:
    """Every foreign key the models declare (for offline SQL, where no database answers)."""
    keys = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        for constraint in table.foreign_key_constraints:
            keys.append(
                ForeignKey(
                    table=table.name,
                    columns=tuple(e.parent.name for e in constraint.elements),
                    parent=constraint.referred_table.name,
                    parent_columns=tuple(e.column.name for e in constraint.elements),
                )
            )
    return keys


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _trigger(name: str, event: str, condition: str, message: str) -> str:
    # Identifiers here come from the database's own catalogue, quoted; messages are
    # built from those same names. No user input reaches this SQL.
    return (
        f"CREATE TRIGGER {name} {event} FOR EACH ROW WHEN {condition} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


def _guard_statements(dialect: Dialect, fk: ForeignKey) -> dict[str, str]:
    """Trigger name -> CREATE TRIGGER statement, for the four guards of one foreign key."""

    def q(name: str) -> str:
        return _quote(dialect, name)

    child, parent = q(fk.table), q(fk.parent)
    pairs = list(zip(fk.columns, fk.parent_columns, strict=True))
    # A child row with any NULL key column references nothing (SQL's MATCH SIMPLE).
    new_not_null = " AND ".join(f"NEW.{q(c)} IS NOT NULL" for c, _ in pairs)
    parent_has_new = " AND ".join(f"{parent}.{q(p)} = NEW.{q(c)}" for c, p in pairs)
    child_has_old = " AND ".join(f"{child}.{q(c)} = OLD.{q(p)}" for c, p in pairs)
    key_changed = " OR ".join(f"NEW.{q(p)} IS NOT OLD.{q(p)}" for _, p in pairs)
    child_columns = ", ".join(q(c) for c, _ in pairs)
    parent_columns = ", ".join(q(p) for _, p in pairs)
    orphan_row = f"NOT EXISTS (SELECT 1 FROM {parent} WHERE {parent_has_new})"  # noqa: S608
    referenced_row = f"EXISTS (SELECT 1 FROM {child} WHERE {child_has_old})"  # noqa: S608
    failed = f"FOREIGN KEY constraint failed: {fk.describe()}"
    orphan = f"{failed} (no such {fk.parent} row)"
    referenced = f"{failed} ({fk.parent} row still referenced)"
    name = GUARD_PREFIX + fk.label
    statements = {
        f"{name}_insert": (f"BEFORE INSERT ON {child}", f"{new_not_null} AND {orphan_row}", orphan),
        f"{name}_update": (
            f"BEFORE UPDATE OF {child_columns} ON {child}",
            f"{new_not_null} AND {orphan_row}",
            orphan,
        ),
        f"{name}_parent_delete": (f"BEFORE DELETE ON {parent}", referenced_row, referenced),
        f"{name}_parent_update": (
            f"BEFORE UPDATE OF {parent_columns} ON {parent}",
            f"({key_changed}) AND {referenced_row}",
            referenced,
        ),
    }
    return {
        trigger: _trigger(q(trigger), event, condition, message)
        for trigger, (event, condition, message) in statements.items()
    }


def guards_for(foreign_keys: Iterable[ForeignKey], dialect: Dialect) -> dict[str, str]:
    """Trigger name -> CREATE TRIGGER statement, for every guard of ``foreign_keys``."""
    guards: dict[str, str] = {}
    for fk in foreign_keys:
        guards.update(_guard_statements(dialect, fk))
    return guards


def drop_statement(name: str, dialect: Dialect) -> str:
    return f"DROP TRIGGER IF EXISTS {_quote(dialect, name)}"


def expected_guards(connection: Connection) -> dict[str, str]:
    """Every guard trigger the database should have, by name."""
    return guards_for(declared_foreign_keys(connection), connection.dialect)


def present_guard_definitions(connection: Connection) -> dict[str, str]:
    """Guard trigger name -> its CREATE TRIGGER text, as the database stores it."""
    rows = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE :prefix"),
        {"prefix": GUARD_PREFIX + "%"},
    )
    # LIKE reads "_" as any character: keep only exact prefix matches.
    return {name: sql for name, sql in rows if name.startswith(GUARD_PREFIX)}


def present_guards(connection: Connection) -> set[str]:
    return set(present_guard_definitions(connection))


def drop_guards(connection: Connection) -> None:
    """Remove every guard trigger (before a migration rebuilds tables)."""
    if connection.dialect.name != "sqlite":
        return
    for name in sorted(present_guards(connection)):
        connection.exec_driver_sql(drop_statement(name, connection.dialect))


def install_guards(connection: Connection) -> int:
    """Create the guard triggers for every declared foreign key; returns how many."""
    if connection.dialect.name != "sqlite":
        return 0  # PostgreSQL enforces foreign keys for every client already.
    drop_guards(connection)
    guards = expected_guards(connection)
    for statement in guards.values():
        connection.exec_driver_sql(statement)
    return len(guards)


def _same_sql(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def has_orphans(connection: Connection) -> bool:
    """Whether a row references a missing parent (SQLite's ``foreign_key_check``): then
    ``ffdb upgrade`` refuses to rebuild guards, so advice must say to repair rows first."""
    return connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None


def missing_guards(connection: Connection) -> list[str]:
    """Guard triggers the database should have but lacks or holds stale (SQLite only).

    A guard is stale when its stored definition is not the one the declared foreign
    keys call for: it may no longer refuse what it should.
    """
    if connection.dialect.name != "sqlite":
        return []
    present = present_guard_definitions(connection)
    return sorted(
        name
        for name, statement in expected_guards(connection).items()
        if name not in present or not _same_sql(present[name], statement)
    )


def stray_guards(connection: Connection) -> list[str]:
    """Guard triggers that match no declared foreign key (SQLite only)."""
    if connection.dialect.name != "sqlite":
        return []
    return sorted(present_guards(connection) - set(expected_guards(connection)))
