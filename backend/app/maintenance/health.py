"""``ffdb doctor``'s checks: what is wrong inside a database that is at head.

Each check is a function ``(Connection) -> list[Problem]`` that names the table and the
key of every finding. ``CHECKS`` lists the database-level checks in order;
``backend.app.domain.doctor.CHECKS`` is what ``ffdb doctor`` runs: these, then the
domain rules.

The database's own checks come first (SQLite's ``integrity_check`` and
``foreign_key_check``, PostgreSQL's catalogue for constraints and indexes that are
not valid). Then the same rules are checked again from the models, with queries
built by SQLAlchemy from the declared foreign keys and CHECK constraints, on every
backend: they catch damage the engine no longer sees (a client that switched the
pragma off, a constraint dropped or added NOT VALID, a table rebuilt without its key).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    case,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.sql.expression import Grouping
from sqlalchemy.types import NullType, TypeDecorator

from backend.app.maintenance import integrity
from backend.app.models import metadata, tables_in_dependency_order
from backend.app.schemas.problems import Problem

Check = Callable[[Connection], list[Problem]]

# Enough to show the pattern of a damage without printing a whole table.
MAX_ROWS_PER_RULE = 100
DATABASE = "(database)"


def _format_key(columns: Sequence[Column[Any]], values: Sequence[Any]) -> str:
    return ", ".join(
        f"{column.name}={value!r}" for column, value in zip(columns, values, strict=True)
    )


def cap_findings(check: str, table: str, findings: Sequence[tuple[str, str]]) -> list[Problem]:
    """Problems for (key, detail) findings, at most MAX_ROWS_PER_RULE and a note if more."""
    problems = [Problem(check, table, key, detail) for key, detail in findings[:MAX_ROWS_PER_RULE]]
    if len(findings) > MAX_ROWS_PER_RULE:
        shown = f"more rows like these; the first {MAX_ROWS_PER_RULE} are shown"
        problems.append(Problem(check, table, "...", shown))
    return problems


# --- SQLite's own checks -------------------------------------------------------------


def sqlite_integrity_check(connection: Connection) -> list[Problem]:
    """``PRAGMA integrity_check``: pages, indexes, NOT NULL, UNIQUE and CHECK rules."""
    if connection.dialect.name != "sqlite":
        return []
    messages = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    if messages == ["ok"]:
        return []
    # Messages name a table or one of its indexes ("row 3 missing from index ix_...").
    owners = {name: name for name in metadata.tables}
    for table in metadata.tables.values():
        owners.update({str(index.name): table.name for index in table.indexes})
        owners.update({f"sqlite_autoindex_{table.name}_{n}": table.name for n in range(1, 9)})

    def problem(message: str) -> Problem:
        words = re.findall(r"\w+", message)
        table = next((owners[w] for w in words if w in owners), DATABASE)
        row = re.search(r"\brow (\d+)\b", message)
        return Problem("integrity_check", table, f"rowid {row[1]}" if row else "", message)

    return [problem(message) for message in messages]


def _sqlite_foreign_key_columns(connection: Connection, table: str) -> dict[int, list[str]]:
    """Foreign key id -> child columns, from ``PRAGMA foreign_key_list``."""
    quoted = connection.dialect.identifier_preparer.quote(table)
    columns: dict[int, list[str]] = {}
    # The table name comes from the database's own catalogue (foreign_key_check), quoted.
    for row in connection.exec_driver_sql(f"PRAGMA foreign_key_list({quoted})"):
        columns.setdefault(row[0], []).append(row[3])
    return columns


def sqlite_foreign_key_check(connection: Connection) -> list[Problem]:
    """``PRAGMA foreign_key_check``: rows whose parent is gone, by table and rowid."""
    if connection.dialect.name != "sqlite":
        return []
    orphans = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    problems: list[Problem] = []
    fk_columns: dict[str, dict[int, list[str]]] = {}
    for table_name, rowid, parent, fk_id in orphans[:MAX_ROWS_PER_RULE]:
        columns = fk_columns.setdefault(
            table_name, _sqlite_foreign_key_columns(connection, table_name)
        ).get(fk_id, [])
        key = f"rowid {rowid}"
        detail = f"references a missing {parent} row"
        table = metadata.tables.get(table_name)
        if table is not None and rowid is not None:
            primary = list(table.primary_key.columns)
            referencing = [table.c[name] for name in columns if name in table.c]
            row = connection.execute(
                select(*primary, *referencing).where(literal_column("rowid") == rowid)
            ).first()
            if row is not None:
                key += f" ({_format_key(primary, row[: len(primary)])})"
                if referencing:
                    values = _format_key(referencing, row[len(primary) :])
                    detail = f"{values} references a missing {parent} row"
        problems.append(Problem("foreign_key_check", table_name, key, detail))
    if len(orphans) > MAX_ROWS_PER_RULE:
        problems.append(
            Problem("foreign_key_check", DATABASE, "...", f"{len(orphans)} orphan rows in all")
        )
    return problems


def sqlite_foreign_key_guards(connection: Connection) -> list[Problem]:
    """The triggers that keep foreign keys for SQLite clients without the pragma."""
    missing = integrity.missing_guards(connection)
    if not missing:
        return []
    advice = (
        "guard trigger missing: first delete or repair the orphan rows foreign_key_check "
        "lists, then run `ffdb upgrade` to rebuild the guards"
        if integrity.has_orphans(connection)
        else "guard trigger missing: run `ffdb upgrade` to rebuild the guards"
    )
    # Name each missing trigger's table: the child's for insert/update guards, the
    # parent's for the guards that protect referenced rows.
    owner: dict[str, str] = {}
    for fk in integrity.declared_foreign_keys(connection):
        name = integrity.GUARD_PREFIX + fk.label
        owner.update({f"{name}_insert": fk.table, f"{name}_update": fk.table})
        owner.update({f"{name}_parent_delete": fk.parent, f"{name}_parent_update": fk.parent})
    return [
        Problem(
            "fk_guards",
            owner.get(name, DATABASE),
            name,
            advice,
        )
        for name in missing
    ]


# --- PostgreSQL's catalogue ----------------------------------------------------------

_UNVALIDATED_CONSTRAINTS = text(
    "SELECT c.relname, con.conname FROM pg_constraint con "
    "JOIN pg_class c ON c.oid = con.conrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT con.convalidated AND n.nspname = current_schema() "
    "ORDER BY c.relname, con.conname"
)

_INVALID_INDEXES = text(
    "SELECT c.relname, ic.relname FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_class ic ON ic.oid = i.indexrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT i.indisvalid AND n.nspname = current_schema() "
    "ORDER BY c.relname, ic.relname"
)


def postgres_unvalidated_constraints(connection: Connection) -> list[Problem]:
    """Constraints added NOT VALID: rows older than the constraint were never checked."""
    if connection.dialect.name != "postgresql":
        return []
    return [
        Problem("unvalidated_constraint", table, name, "NOT VALID: existing rows never checked")
        for table, name in connection.execute(_UNVALIDATED_CONSTRAINTS)
    ]


def postgres_invalid_indexes(connection: Connection) -> list[Problem]:
    """Indexes left invalid (a failed CREATE INDEX CONCURRENTLY): unused, unmaintained."""
    if connection.dialect.name != "postgresql":
        return []
    return [
        Problem("invalid_index", table, name, "index is INVALID: rebuild it with REINDEX")
        for table, name in connection.execute(_INVALID_INDEXES)
    ]


# --- The models' rules, checked by queries on any backend ----------------------------


def _tables() -> Iterable[Table]:
    return tables_in_dependency_order()


def _orphans_of(connection: Connection, table: Table, fk: ForeignKeyConstraint) -> list[Problem]:
    # An alias, so a table that references itself joins to a second copy of itself.
    parent = fk.referred_table.alias("parent")
    pairs = [(element.parent, parent.c[element.column.name]) for element in fk.elements]
    child_columns = [child for child, _ in pairs]
    parent_column = pairs[0][1]
    primary = list(table.primary_key.columns)
    query = (
        select(*primary, *child_columns)
        .select_from(table.outerjoin(parent, and_(*(c == p for c, p in pairs))))
        .where(*(c.is_not(None) for c in child_columns), parent_column.is_(None))
        .order_by(*primary)
        .limit(MAX_ROWS_PER_RULE + 1)
    )
    rows = connection.execute(query).all()
    target = ", ".join(f"{fk.referred_table.name}.{p.name}" for _, p in pairs)
    findings = [
        (
            _format_key(primary, row[: len(primary)]),
            f"{_format_key(child_columns, row[len(primary) :])} has no {target}",
        )
        for row in rows
    ]
    return cap_findings("orphan_rows", table.name, findings)


def orphan_rows(connection: Connection) -> list[Problem]:
    """Rows whose foreign key points at no parent, for every foreign key of the models."""
    problems: list[Problem] = []
    for table in _tables():
        for constraint in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            problems.extend(_orphans_of(connection, table, constraint))
    return problems


def check_constraint_violations(connection: Connection) -> list[Problem]:
    """Rows that break a CHECK constraint of the models (enum values included)."""
    problems: list[Problem] = []
    for table in _tables():
        primary = list(table.primary_key.columns)
        checks = [c for c in table.constraints if isinstance(c, CheckConstraint)]
        for check in sorted(checks, key=lambda c: str(c.name)):
            # The rule is the model's own expression; a NULL result passes, as in SQL.
            query = (
                select(*primary)
                .select_from(table)
                .where(not_(Grouping(check.sqltext)))
                .order_by(*primary)
                .limit(MAX_ROWS_PER_RULE + 1)
            )
            findings = [
                (_format_key(primary, row), f"breaks {check.name}")
                for row in connection.execute(query)
            ]
            problems.extend(cap_findings("check_constraints", table.name, findings))
    return problems


# --- storage types SQLite lets through -------------------------------------------------

STORAGE_TYPES = "storage_types"


def _storage_rule(column: Column[Any]) -> tuple[ColumnElement[bool], str] | None:
    """SQL that is true where SQLite stored a value of the wrong kind in ``column`` (its
    column types are affinities, and its CHECKs compare text with numbers happily), and
    what the column should hold."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    stored = func.typeof(column)
    if isinstance(kind, Boolean):
        return or_(stored != "integer", column.not_in([0, 1])), "0 or 1"
    if isinstance(kind, JSON):
        return or_(stored != "text", func.json_valid(column) == 0), "JSON text"
    if isinstance(kind, Integer):
        return stored != "integer", "a whole number"
    if isinstance(kind, Float | Numeric):
        return stored.not_in(["integer", "real"]), "a number"
    if isinstance(kind, DateTime):
        return or_(stored != "text", func.datetime(column).is_(None)), "a date and time"
    if isinstance(kind, Date):
        return or_(stored != "text", func.date(column).is_distinct_from(column)), (
            "an ISO date YYYY-MM-DD"
        )
    if isinstance(kind, String):
        return stored != "text", "text"
    return None


def storage_type_damage(
    connection: Connection,
    table: Table,
    where: ColumnElement[bool] | None = None,
    limit: int = MAX_ROWS_PER_RULE,
) -> list[tuple[str, str]]:
    """(key, detail) of rows of ``table`` (those ``where`` selects) holding a value of the
    wrong storage type, at most ``limit`` + 1; SQLite only (PostgreSQL refuses them)."""
    if connection.dialect.name != "sqlite":
        return []
    rules = [(c, *rule) for c in table.columns if (rule := _storage_rule(c)) is not None]
    if not rules:
        return []
    primary = list(table.primary_key.columns)
    flags = [case((and_(c.is_not(None), bad), 1), else_=0) for c, bad, _ in rules]
    raw = [type_coerce(c, NullType()) for c, _, _ in rules]
    query = (
        select(*primary, *flags, *raw, *(func.typeof(c) for c, _, _ in rules))
        .select_from(table)
        .where(or_(*(and_(c.is_not(None), bad) for c, bad, _ in rules)))
        .order_by(*primary)
        .limit(limit + 1)
    )
    if where is not None:
        query = query.where(where)
    findings: list[tuple[str, str]] = []
    width = len(rules)
    for row in connection.execute(query):
        key = _format_key(primary, row[: len(primary)])
        marks = row[len(primary) : len(primary) + width]
        values = row[len(primary) + width : len(primary) + 2 * width]
        stored = row[len(primary) + 2 * width :]
        details = [
            f"{column.name} holds {kind} {value!r}, expected {expected}"
            for (column, _, expected), mark, value, kind in zip(
                rules, marks, values, stored, strict=True
            )
            if mark
        ]
        findings.append((key, "; ".join(details)))
    return findings


def storage_types(connection: Connection) -> list[Problem]:
    """Values SQLite stored with the wrong type: ``'abc'`` or ``2.5`` in a whole-number
    column, ``'not-a-date'`` in a date, malformed JSON. The rules below would read them
    as something else (a text compares greater than any number)."""
    problems: list[Problem] = []
    for table in _tables():
        problems.extend(
            cap_findings(STORAGE_TYPES, table.name, storage_type_damage(connection, table))
        )
    return problems


# The database's own checks, in order. ``backend.app.domain.doctor`` adds the domain
# rules after them: the database layer does not import the layers above it.
CHECKS: list[Check] = [
    sqlite_integrity_check,
    sqlite_foreign_key_check,
    sqlite_foreign_key_guards,
    postgres_unvalidated_constraints,
    postgres_invalid_indexes,
    storage_types,
    orphan_rows,
    check_constraint_violations,
]


def check_name(check: Check) -> str:
    """A short label for progress output: the check's name in words."""
    return getattr(check, "__name__", repr(check)).replace("_", " ")


def run_isolated(
    connection: Connection, name: str, check: Callable[[], list[Problem]]
) -> list[Problem]:
    """``check()``'s problems; if it fails, one problem saying so instead of stopping the
    run, and the failure undone (a savepoint), so the checks after it still run."""
    savepoint = connection.begin_nested()
    try:
        found = check()
    except Exception as error:
        savepoint.rollback()
        message = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = message[0] if message else type(error).__name__
        return [
            Problem(
                "doctor",
                DATABASE,
                name,
                f"this check could not finish ({reason}); the other findings may say why",
            )
        ]
    savepoint.commit()
    return found


def run_checks(connection: Connection, checks: Iterable[Check] = CHECKS) -> list[Problem]:
    """Every check's problems; a check that fails is a finding, the rest still run."""
    problems: list[Problem] = []
    for check in checks:
        problems.extend(run_isolated(connection, check_name(check), partial(check, connection)))
    return problems
