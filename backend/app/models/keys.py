"""The bound on every string key: the one place that says how long an id may be.

Every string primary-key and foreign-key column holds 1 to ``KEY_MAX_LENGTH``
characters, by a named CHECK (``ck_<table>_<column>_length``) on every backend: SQLite
would store a 10,000-character id that PostgreSQL's indexes then refuse, and such a
database could no longer be transferred. The ids the layer derives from names and
natural keys (``maintenance.definitions``) are shortened to fit the same bound.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, MetaData, String, Table

KEY_MAX_LENGTH = 128


def key_columns(table: Table) -> list[Column[str]]:
    """The table's string columns that are part of its primary key or of a foreign key."""
    return [
        column
        for column in table.columns
        if (column.primary_key or column.foreign_keys) and isinstance(column.type, String)
    ]


def key_length_sql(column: str, *, nullable: bool = False) -> str:
    """The CHECK's SQL for ``column``, the same text on both backends (NULL passes a
    nullable key, as it would pass any CHECK; said outright for readers of the schema)."""
    bounded = f"length({column}) BETWEEN 1 AND {KEY_MAX_LENGTH}"
    return f"{column} IS NULL OR ({bounded})" if nullable else bounded


def key_length_check(column: str, *, nullable: bool = False) -> CheckConstraint:
    """A CHECK named ``ck_<table>_<column>_length`` by the naming convention: for a model
    to bound a string column that is not a key (``add_key_length_checks`` does the keys)."""
    return CheckConstraint(key_length_sql(column, nullable=nullable), name=f"{column}_length")


def add_key_length_checks(metadata: MetaData) -> None:
    """Give every string key column of every table its length CHECK (once)."""
    for table in metadata.tables.values():
        present = {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        for column in key_columns(table):
            name = f"{column.name}_length"
            if f"ck_{table.name}_{name}" not in present and name not in present:
                table.append_constraint(key_length_check(column.name))
