"""Key lengths: every string primary-key and foreign-key column holds 1 to 128 characters.

A named CHECK ``ck_<table>_<column>_length`` (``length(col) BETWEEN 1 AND 128``) on
every backend: SQLite stored a 10,000-character id that PostgreSQL refuses, so such a
database could not be transferred. Existing rows that break the bound stop the upgrade
with a message naming table, column and row; nothing is changed then.

The key columns are read from the database being migrated (the string columns of each
table's primary key and foreign keys), not listed here: the schema this revision
starts from is fixed by the revisions before it, so the result is too, and tables a
revision before this one adds get their bounds with the rest. 128 is frozen here, as
the models' ``KEY_MAX_LENGTH`` was when this was written.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29 09:15:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_MAX_LENGTH = 128
SHOWN_ROWS = 3


class KeyTooLong(ValueError):
    """Rows whose key is empty or longer than the bound: the upgrade cannot add it."""


def _key_columns(inspector: sa.Inspector) -> dict[str, list[str]]:
    """Table -> its string primary-key and foreign-key columns, in column order."""
    found: dict[str, list[str]] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        keys = set(inspector.get_pk_constraint(table)["constrained_columns"])
        for foreign in inspector.get_foreign_keys(table):
            keys.update(foreign["constrained_columns"])
        columns = [
            column["name"]
            for column in inspector.get_columns(table)
            if column["name"] in keys and isinstance(column["type"], sa.String)
        ]
        if columns:
            found[table] = columns
    return found


def _check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}_length"


def _refuse_violations(connection: sa.Connection, table: str, column: str, key: list[str]) -> None:
    quote = connection.dialect.identifier_preparer.quote
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


def upgrade() -> None:
    connection = op.get_bind()
    inspector = sa.inspect(connection)
    keys = _key_columns(inspector)
    for table, columns in keys.items():
        primary = inspector.get_pk_constraint(table)["constrained_columns"] or columns[:1]
        for column in columns:
            _refuse_violations(connection, table, column, primary)
    for table, columns in keys.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.create_check_constraint(
                    op.f(_check_name(table, column)),  # final: no naming convention on top
                    sa.text(f"length({column}) BETWEEN 1 AND {KEY_MAX_LENGTH}"),
                )


def downgrade() -> None:
    connection = op.get_bind()
    inspector = sa.inspect(connection)
    for table, columns in _key_columns(inspector).items():
        present = {check["name"] for check in inspector.get_check_constraints(table)}
        names = [_check_name(table, c) for c in columns if _check_name(table, c) in present]
        if not names:
            continue
        with op.batch_alter_table(table) as batch:
            for name in names:
                batch.drop_constraint(op.f(name), type_="check")
