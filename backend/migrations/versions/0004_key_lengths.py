"""Key rule: every string key holds 1 to 128 characters, none of them edge whitespace.

A named CHECK ``ck_<table>_<column>_length`` on every backend: the length (SQLite
stored a 10,000-character id that PostgreSQL refuses, so such a database could not be
transferred), and the value unchanged by trimming the characters ``str.isspace()``
accepts from its ends (the importers trim every field, so an id stored as ``" S1"``
came back from export and import as ``"S1"``). Existing rows that break the rule stop
the upgrade with a message naming table, column, row and value; nothing is changed then.

The key columns are listed below: every string primary-key and foreign-key column of
0002's tables gets the CHECK; the columns 0003 bounded by length alone (its own keys,
a run's season and agent, an approval's actor) have that CHECK replaced by the full
rule, and a downgrade puts 0003's back. 128 and the character set are frozen here, as
the models' ``KEY_MAX_LENGTH`` and ``KEY_EDGE_WHITESPACE`` (models/keys.py) were when
this was written; the SQL is the models' ``key_rule_sql`` for each dialect, character
for character (SQLite's ``char(9, 10, ...)``, PostgreSQL's ``U&''`` literal).

SQLite adds a CHECK only by rebuilding the table. Alembic's batch mode would leave the
table's definition as ``CREATE TABLE "stores"`` (its temporary table renamed); here the
table is rebuilt from its own definition text with the constraint appended (or, for
0003's, replaced in place), so ``.schema stores`` still reads ``CREATE TABLE stores
(...)``. That needs the stored definition, so offline SQL (``--sql``) for SQLite leaves
the rules out; PostgreSQL's offline SQL has them.

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
# What a key may not begin or end with: the characters str.isspace() accepts (models/keys.py
# KEY_EDGE_WHITESPACE when this was written), as code points.
EDGE_WHITESPACE = (9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760)
EDGE_WHITESPACE += (*range(8192, 8203), 8232, 8233, 8239, 8287, 12288)
SHOWN_ROWS = 3
SHOWN_CHARACTERS = 40


class KeyRefused(ValueError):
    """Rows whose key breaks the rule: the upgrade cannot add it."""


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
# table -> (column, nullable): the columns 0003 bounded by length alone; their CHECK is
# replaced by the full rule here (and put back as 0003 wrote it on downgrade).
BOUNDED_BY_0003: dict[str, tuple[tuple[str, bool], ...]] = {
    "forecasts": (("revises_forecast_id", True),),
    "markdown_status_changes": (("change_id", False), ("markdown_id", False), ("actor", False)),
    "workflows": (
        ("workflow_id", False),
        ("category_id", False),
        ("season", False),
        ("parameter_id", True),
        ("forecast_id", True),
        ("allocation_id", True),
        ("current_agent", True),
    ),
}


def _checked() -> dict[str, list[tuple[str, bool]]]:
    """Every column this revision gives the key rule, by table."""
    columns: dict[str, list[tuple[str, bool]]] = {
        table: [(column, False) for column in names] for table, names in KEY_COLUMNS.items()
    }
    for table, bounded in BOUNDED_BY_0003.items():
        columns.setdefault(table, []).extend(bounded)
    return columns


def _check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}_length"


def _rule(dialect: str, column: str, *, nullable: bool = False) -> str:
    """The key rule's SQL, as the models' key_rule_sql wrote it for ``dialect``."""
    if dialect == "postgresql":
        trim = "btrim"
        edges = "U&'" + "".join(f"\\{code:04X}" for code in EDGE_WHITESPACE) + "'"
    else:
        trim = "trim"
        edges = f"char({', '.join(map(str, EDGE_WHITESPACE))})"
    rule = (
        f"length({column}) BETWEEN 1 AND {KEY_MAX_LENGTH} AND {trim}({column}, {edges}) = {column}"
    )
    return f"{column} IS NULL OR ({rule})" if nullable else rule


def _rule_0003(column: str, *, nullable: bool) -> str:
    """The length bound exactly as revision 0003 wrote it."""
    bounded = f"length({column}) >= 1 AND length({column}) <= {KEY_MAX_LENGTH}"
    return f"{column} IS NULL OR ({bounded})" if nullable else bounded


def _shown(value: object) -> str:
    """A value's repr, so edge whitespace is visible; a long one by its two ends."""
    text = str(value)
    if len(text) <= 2 * SHOWN_CHARACTERS:
        return repr(text)
    return f"{text[:SHOWN_CHARACTERS]!r}...{text[-10:]!r}"


def _refuse_violations(connection: sa.Connection, table: str, column: str, nullable: bool) -> None:
    quote = connection.dialect.identifier_preparer.quote
    key = sa.inspect(connection).get_pk_constraint(table)["constrained_columns"] or [column]
    shown = ", ".join(quote(name) for name in key)
    rule = _rule(connection.dialect.name, quote(column), nullable=nullable)
    # Names from the database's own catalogue, quoted; the rule is built from constants.
    rows = connection.execute(
        sa.text(
            f"SELECT {shown}, {quote(column)}, length({quote(column)}) "  # noqa: S608
            f"FROM {quote(table)} WHERE NOT ({rule}) "
            f"ORDER BY {shown} LIMIT {SHOWN_ROWS + 1}"
        )
    ).all()
    if not rows:
        return
    examples = []
    for row in rows[:SHOWN_ROWS]:
        *key_values, value, length = row
        named = ", ".join(f"{k}={_shown(v)}" for k, v in zip(key, key_values, strict=True))
        if column not in key:
            named = f"{named}: {column}={_shown(value)}"
        examples.append(f"{named} ({length} characters)")
    more = " and more" if len(rows) > SHOWN_ROWS else ""
    raise KeyRefused(
        f"{table}.{column} must hold 1 to {KEY_MAX_LENGTH} characters with no whitespace "
        f"at either end, but rows break it: {'; '.join(examples)}{more}; correct or delete "
        "them, then upgrade again"
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


def _clause(table: str, column: str, rule: str) -> str:
    return f"CONSTRAINT {_check_name(table, column)} CHECK ({rule})"


def _with_check(definition: str, name: str, clause: str | None) -> str:
    """``definition`` (a CREATE TABLE text) with CHECK ``name`` replaced by ``clause`` in
    its place, appended when absent, or removed when ``clause`` is None."""
    found = re.search(rf"CONSTRAINT {re.escape(name)} CHECK \(", definition)
    if found is None:
        if clause is None:
            return definition
        assert definition.endswith(")"), definition
        return f"{definition[:-1].rstrip()}, \n\t{clause}\n)"
    depth, end = 1, found.end()
    while depth:  # the rules hold no quoted parentheses: count them to the CHECK's end
        depth += {"(": 1, ")": -1}.get(definition[end], 0)
        end += 1
    if clause is not None:
        return definition[: found.start()] + clause + definition[end:]
    separator = re.search(r",\s*$", definition[: found.start()])
    assert separator is not None, definition
    return definition[: separator.start()] + definition[end:]


def _rebuild_sqlite(connection: sa.Connection, clauses: dict[str, dict[str, str | None]]) -> None:
    """Rebuild each table with its CHECKs (name -> clause, None to drop) set."""
    for table, checks in clauses.items():
        definition = _sqlite_definition(connection, table)
        changed = definition
        for name, clause in checks.items():
            changed = _with_check(changed, name, clause)
        if changed != definition:
            _rebuild_sqlite_table(connection, table, changed)


def upgrade() -> None:
    checked = _checked()
    offline = context.is_offline_mode()
    dialect = op.get_context().dialect.name
    if not offline:
        connection = op.get_bind()
        for table, columns in checked.items():
            for column, nullable in columns:
                _refuse_violations(connection, table, column, nullable)
    if dialect == "sqlite":
        if offline:
            return  # see the module's docstring
        _rebuild_sqlite(
            connection,
            {
                table: {
                    _check_name(table, column): _clause(
                        table, column, _rule(dialect, column, nullable=nullable)
                    )
                    for column, nullable in columns
                }
                for table, columns in checked.items()
            },
        )
        return
    for table, columns in checked.items():
        for column, nullable in columns:
            name = op.f(_check_name(table, column))
            if (column, nullable) in BOUNDED_BY_0003.get(table, ()):
                op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(
                name, table, sa.text(_rule(dialect, column, nullable=nullable))
            )


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        if context.is_offline_mode():
            return  # see the module's docstring
        clauses: dict[str, dict[str, str | None]] = {
            table: dict.fromkeys((_check_name(table, column) for column in columns), None)
            for table, columns in KEY_COLUMNS.items()
        }
        for table, bounded in BOUNDED_BY_0003.items():
            clauses.setdefault(table, {}).update(
                {
                    _check_name(table, column): _clause(
                        table, column, _rule_0003(column, nullable=nullable)
                    )
                    for column, nullable in bounded
                }
            )
        _rebuild_sqlite(op.get_bind(), clauses)
        return
    for table, columns in KEY_COLUMNS.items():
        for column in columns:
            op.drop_constraint(op.f(_check_name(table, column)), table, type_="check")
    for table, bounded in BOUNDED_BY_0003.items():
        for column, nullable in bounded:
            name = op.f(_check_name(table, column))
            op.drop_constraint(name, table, type_="check")
            op.create_check_constraint(name, table, sa.text(_rule_0003(column, nullable=nullable)))
