"""Key lengths: every string primary-key and foreign-key column holds 1 to 128 characters.

A named CHECK ``ck_<table>_<column>_length`` (``length(col) BETWEEN 1 AND 128``) on
every backend: SQLite stored a 10,000-character id that PostgreSQL refuses, so such a
database could not be transferred. Existing rows that break the bound stop the upgrade
with a message naming table, column and row; nothing is changed then.

The key columns are listed below: every string primary-key and foreign-key column of
0002's tables (0003 bounds the keys of the tables it adds itself). 128 is frozen here,
as the models' ``KEY_MAX_LENGTH`` (models/keys.py) was when this was written.

SQLite adds a CHECK only by rebuilding the table. Alembic's batch mode would leave the
table's definition as ``CREATE TABLE "stores"`` (its temporary table renamed); here the
table is rebuilt from its own definition text with the constraint appended, so
``.schema stores`` still reads ``CREATE TABLE stores (...)``. That needs the stored
definition, so offline SQL (``--sql``) for SQLite leaves the bounds out; PostgreSQL's
offline SQL has them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:15:00.000000

"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_MAX_LENGTH = 128
SHOWN_ROWS = 3


class KeyTooLong(ValueError):
    """Rows whose key is empty or longer than the bound: the upgrade cannot add it."""


# table -> its string key columns: those of 0002's tables, which no revision bounded.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "actual_sales": ("actual_id", "store_id", "forecast_id"),
    "allocations": ("allocation_id", "forecast_id"),
    "categories": ("category_id",),
    "forecast_cluster_distribution": ("distribution_id", "forecast_id", "cluster_id"),
    "forecasts": ("forecast_id", "category_id"),
    "historical_sales": ("sale_id", "store_id", "category_id"),
    "markdowns": ("markdown_id", "forecast_id"),
    "season_parameters": ("parameter_id", "category_id"),
    "store_clusters": ("cluster_id",),
    "store_extra_attributes": ("store_id",),
    "stores": ("store_id", "cluster_id"),
    "workflow_logs": ("log_id",),
}


def _check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}_length"


def _rule(column: str) -> str:
    return f"length({column}) BETWEEN 1 AND {KEY_MAX_LENGTH}"


def _refuse_violations(connection: sa.Connection, table: str, column: str) -> None:
    quote = connection.dialect.identifier_preparer.quote
    key = sa.inspect(connection).get_pk_constraint(table)["constrained_columns"] or [column]
    shown = ", ".join(quote(name) for name in key)
    # Names from the database's own catalogue, quoted; the bound is a constant.
    rows = connection.execute(
        sa.text(
            f"SELECT {shown}, length({quote(column)}) FROM {quote(table)} "  # noqa: S608
            f"WHERE length({quote(column)}) NOT BETWEEN 1 AND {KEY_MAX_LENGTH} "
            f"ORDER BY {shown} LIMIT {SHOWN_ROWS + 1}"
        )
    ).all()
    if not rows:
        return
    examples = "; ".join(
        f"{', '.join(f'{k}={str(v)[:40]!r}' for k, v in zip(key, row[:-1], strict=True))} "
        f"({row[-1]} characters)"
        for row in rows[:SHOWN_ROWS]
    )
    more = " and more" if len(rows) > SHOWN_ROWS else ""
    raise KeyTooLong(
        f"{table}.{column} must hold 1 to {KEY_MAX_LENGTH} characters, but rows break it: "
        f"{examples}{more}; shorten or delete them, then upgrade again"
    )


def _rebuild_sqlite_table(connection: sa.Connection, table: str, definition: str) -> None:
    """Replace ``table`` by one made from ``definition`` (its CREATE TABLE text), rows and
    indexes kept. The old table is renamed first, with references to it left alone
    (legacy_alter_table; env.py has foreign keys off and the guard triggers dropped)."""
    indexes = [
        row[0]
        for row in connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        )
    ]
    old = f"_ffdb_old_{table}"
    connection.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    try:
        connection.exec_driver_sql(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        connection.exec_driver_sql(definition)
        connection.exec_driver_sql(f'INSERT INTO "{table}" SELECT * FROM "{old}"')  # noqa: S608
        connection.exec_driver_sql(f'DROP TABLE "{old}"')
        for index in indexes:
            connection.exec_driver_sql(index)
    finally:
        connection.exec_driver_sql("PRAGMA legacy_alter_table = OFF")


def _sqlite_definition(connection: sa.Connection, table: str) -> str:
    row = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).one()
    return str(row[0]).rstrip()


def _clause(table: str, column: str) -> str:
    return f"CONSTRAINT {_check_name(table, column)} CHECK ({_rule(column)})"


def upgrade() -> None:
    keys = KEY_COLUMNS
    offline = context.is_offline_mode()
    if not offline:
        connection = op.get_bind()
        for table, columns in keys.items():
            for column in columns:
                _refuse_violations(connection, table, column)
    if op.get_context().dialect.name == "sqlite":
        if offline:
            return  # see the module's docstring
        for table, columns in keys.items():
            definition = _sqlite_definition(connection, table)
            assert definition.endswith(")"), definition
            added = ", \n\t".join(_clause(table, column) for column in columns)
            _rebuild_sqlite_table(connection, table, f"{definition[:-1].rstrip()}, \n\t{added}\n)")
        return
    for table, columns in keys.items():
        for column in columns:
            op.create_check_constraint(
                op.f(_check_name(table, column)), table, sa.text(_rule(column))
            )


def downgrade() -> None:
    keys = KEY_COLUMNS
    if op.get_context().dialect.name == "sqlite":
        if context.is_offline_mode():
            return  # see the module's docstring
        connection = op.get_bind()
        for table, columns in keys.items():
            definition = _sqlite_definition(connection, table)
            kept = definition
            for column in columns:
                kept = re.sub(r",\s*" + re.escape(_clause(table, column)), "", kept)
            if kept != definition:
                _rebuild_sqlite_table(connection, table, kept)
        return
    for table, columns in keys.items():
        for column in columns:
            op.drop_constraint(op.f(_check_name(table, column)), table, type_="check")
