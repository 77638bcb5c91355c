"""One wording for a constraint violation, whichever backend refused the row.

Both backends raise SQLAlchemy's ``IntegrityError``, but the driver's text differs:
PostgreSQL names the constraint and (in its DETAIL) the key; SQLite names the
columns of a UNIQUE or NOT NULL rule, and our ``ffdb_fk_*`` triggers name the
foreign key's columns. ``describe_integrity_error`` maps both onto the schema's
constraint names (``ck_*``, ``fk_*``, ``uq_*``, ``pk_*``) so a person reads the same
line on either backend, e.g.::

    foreign key fk_stores_cluster_id_store_clusters violated on stores: \
stores.cluster_id -> store_clusters.cluster_id (no such store_clusters row)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from backend.app.database.base import Base

# PostgreSQL SQLSTATEs of the integrity class we translate.
_PG_KINDS = {
    "23502": "not null",
    "23503": "foreign key",
    "23505": "unique",
    "23514": "check",
}
_SQLITE_CHECK = re.compile(r"^CHECK constraint failed: (?P<name>\S+)")
_SQLITE_UNIQUE = re.compile(r"^UNIQUE constraint failed: (?P<columns>.+)$")
_SQLITE_NOT_NULL = re.compile(r"^NOT NULL constraint failed: (?P<table>\w+)\.(?P<column>\w+)")
_SQLITE_FK = re.compile(
    r"^FOREIGN KEY constraint failed: (?P<child>[\w., ]+) -> (?P<parent>[\w., ]+?)"
    r"(?: \((?P<why>[^)]*)\))?$"
)


@dataclass(frozen=True)
class ConstraintViolation:
    """What an ``IntegrityError`` was about, in the schema's own names."""

    kind: str  # "check", "foreign key", "unique", "not null"
    table: str | None
    constraint: str | None  # None for NOT NULL, which has no named constraint
    detail: str  # the backend's detail: columns, key values or the reason

    def __str__(self) -> str:
        name = f" {self.constraint}" if self.constraint else ""
        where = f" on {self.table}" if self.table else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.kind} constraint{name} violated{where}{detail}"


def describe_integrity_error(error: IntegrityError) -> str:
    """One line naming the constraint and table a refused row broke, on either backend."""
    violation = constraint_violation(error)
    if violation is not None:
        return str(violation)
    return str(error.orig).strip().splitlines()[0] if error.orig else str(error)


def constraint_violation(error: IntegrityError) -> ConstraintViolation | None:
    """The violated constraint, or None when the driver's message says too little."""
    original = error.orig
    diag = getattr(original, "diag", None)
    sqlstate = getattr(original, "sqlstate", None)
    if diag is not None and sqlstate in _PG_KINDS:
        return _from_postgresql(_PG_KINDS[sqlstate], diag)
    return _from_sqlite(str(original).strip())


def _from_postgresql(kind: str, diag: object) -> ConstraintViolation:
    table = getattr(diag, "table_name", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = (getattr(diag, "message_detail", None) or "").strip()
    if kind == "not null":
        column = getattr(diag, "column_name", None)
        detail = f"{table}.{column} is NULL"
    elif kind == "check":
        detail = ""  # "Failing row contains (...)": the whole row, every value of it
    return ConstraintViolation(kind, table, constraint, detail)


def _from_sqlite(message: str) -> ConstraintViolation | None:
    if match := _SQLITE_CHECK.match(message):
        name = match["name"]
        return ConstraintViolation("check", _table_of_check(name), name, "")
    if match := _SQLITE_NOT_NULL.match(message):
        table, column = match["table"], match["column"]
        return ConstraintViolation("not null", table, None, f"{table}.{column} is NULL")
    if match := _SQLITE_UNIQUE.match(message):
        qualified = [part.strip() for part in match["columns"].split(",")]
        table = qualified[0].split(".")[0]
        columns = tuple(part.split(".", 1)[1] for part in qualified)
        name = _unique_name(table, columns)
        detail = f"({', '.join(columns)}) already exists"
        return ConstraintViolation("unique", table, name, detail)
    if match := _SQLITE_FK.match(message):
        child = [part.strip() for part in match["child"].split(",")]
        table = child[0].split(".")[0]
        columns = tuple(part.split(".", 1)[1] for part in child)
        parent = match["parent"].split(",")[0].strip().split(".")[0]
        detail = f"{match['child']} -> {match['parent']}"
        if match["why"]:
            detail += f" ({match['why']})"
        return ConstraintViolation("foreign key", table, _fk_name(table, columns, parent), detail)
    return None


def _table(name: str) -> Table | None:
    return Base.metadata.tables.get(name)


def _table_of_check(constraint: str) -> str | None:
    for table in Base.metadata.sorted_tables:
        if any(c.name == constraint for c in table.constraints):
            return table.name
    return None


def _unique_name(table_name: str, columns: tuple[str, ...]) -> str | None:
    table = _table(table_name)
    if table is None:
        return None
    for constraint in table.constraints:
        if (
            isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
            and tuple(column.name for column in constraint.columns) == columns
        ):
            return str(constraint.name) if constraint.name else None
    return None


def _fk_name(table_name: str, columns: tuple[str, ...], parent: str) -> str | None:
    table = _table(table_name)
    if table is None:
        return None
    for constraint in table.constraints:
        if (
            isinstance(constraint, ForeignKeyConstraint)
            and tuple(constraint.column_keys) == columns
            and constraint.referred_table.name == parent
        ):
            return str(constraint.name) if constraint.name else None
    return None
