"""``docs/schema.md``: the schema reference, generated from the models.

Tables with their columns (type on each backend, nullability, server default, key),
constraints and indexes. Committed, and a test fails when it is stale.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from backend.app.models import tables_in_dependency_order

REGENERATE = "ffdb schema-doc --output docs/schema.md"
DIALECTS: dict[str, Dialect] = {
    "SQLite": sqlite.dialect(),
    "PostgreSQL": postgresql.dialect(),  # type: ignore[no-untyped-call]
}


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _type(column: Column[Any], dialect: Dialect) -> str:
    return str(column.type.compile(dialect=dialect))


def _default(column: Column[Any]) -> str:
    default = column.server_default
    arg = getattr(default, "arg", None)
    if arg is None:
        return ""
    if isinstance(arg, str):
        return f"`'{arg}'`"
    # A function default (now()) in its generic spelling: each backend renders its own.
    return f"`{arg}`"


def _key(column: Column[Any]) -> str:
    marks = []
    if column.primary_key:
        marks.append("PK")
    marks.extend(f"FK -> {fk.target_fullname}" for fk in sorted(column.foreign_keys, key=str))
    return ", ".join(marks)


def _columns(table: Table) -> list[str]:
    names = " | ".join(DIALECTS)
    lines = [
        f"| column | {names} | null | server default | key |",
        "|" + " --- |" * (len(DIALECTS) + 4),
    ]
    for column in table.columns:
        types = " | ".join(f"`{_cell(_type(column, d))}`" for d in DIALECTS.values())
        null = "yes" if column.nullable else "no"
        lines.append(
            f"| `{column.name}` | {types} | {null} | {_cell(_default(column))} | {_key(column)} |"
        )
    return lines


def _constraint_rule(constraint: Any) -> tuple[str, str]:
    columns = ", ".join(c.name for c in constraint.columns)
    if isinstance(constraint, PrimaryKeyConstraint):
        return "primary key", f"({columns})"
    if isinstance(constraint, UniqueConstraint):
        return "unique", f"({columns})"
    if isinstance(constraint, ForeignKeyConstraint):
        parent = constraint.referred_table.name
        targets = ", ".join(element.column.name for element in constraint.elements)
        return "foreign key", f"({columns}) -> {parent} ({targets})"
    if isinstance(constraint, CheckConstraint):
        rule = constraint.sqltext.compile(
            dialect=DIALECTS["SQLite"], compile_kwargs={"literal_binds": True}
        )
        return "check", f"`{_cell(str(rule))}`"
    return type(constraint).__name__, ""  # pragma: no cover - no other kinds declared


def _constraints(table: Table) -> list[str]:
    lines = ["| constraint | kind | rule |", "| --- | --- | --- |"]
    rows = sorted((str(c.name), *_constraint_rule(c)) for c in table.constraints)
    lines.extend(f"| `{name}` | {kind} | {rule} |" for name, kind, rule in rows)
    return lines


def _indexes(table: Table) -> list[str]:
    indexes: list[Index] = sorted(table.indexes, key=lambda i: str(i.name))
    if not indexes:
        return ["No indexes besides the primary key and unique constraints."]
    lines = ["| index | columns | unique |", "| --- | --- | --- |"]
    for index in indexes:
        columns = ", ".join(c.name for c in index.columns)
        lines.append(f"| `{index.name}` | ({columns}) | {'yes' if index.unique else 'no'} |")
    return lines


def markdown() -> str:
    """The whole reference as one Markdown page, tables in dependency order."""
    tables = tables_in_dependency_order()
    out = [
        "# Schema reference",
        "",
        f"Generated from the SQLAlchemy models by `{REGENERATE}`; do not edit by hand.",
        "Tables are listed parents first. The diagram is in [erd.md](erd.md).",
        "",
        *(f"- [`{t.name}`](#{t.name})" for t in tables),
    ]
    for table in tables:
        out += ["", f"## {table.name}", ""]
        if table.comment:
            out += [table.comment, ""]
        out += [*_columns(table), "", "Constraints:", "", *_constraints(table)]
        out += ["", "Indexes:", "", *_indexes(table)]
    return "\n".join(out) + "\n"
