"""Schema management: move a database along the migration chain and tell where it is.

Alembic does the work; this module gives ``ffdb`` plain functions with plain results
(revisions, reasons) instead of Alembic's printed output, so the CLI only formats.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from sqlalchemy import (
    CheckConstraint,
    Connection,
    Engine,
    MetaData,
    func,
    inspect,
    pool,
    select,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine, normalize_url
from backend.app.maintenance import integrity
from backend.app.maintenance.schema_version import (
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    script_directory,
)
from backend.app.models import metadata, tables_in_dependency_order


class UnknownRevision(ValueError):
    """A revision that is not in the migration chain this code ships."""


@dataclass(frozen=True)
class RevisionInfo:
    """One step of the migration chain, as ``ffdb history`` lists it."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool
    is_current: bool


def _resolve(revision: str) -> str:
    """Check that ``revision`` names something in the chain (``head``, ``base``, an id)."""
    if revision in ("head", "heads", "base"):
        return revision
    try:
        found = script_directory().get_revision(revision)
    except Exception as error:  # alembic raises several types for a bad name
        raise UnknownRevision(f"unknown revision {revision!r}: see `ffdb history`") from error
    if found is None:
        raise UnknownRevision(f"unknown revision {revision!r}: see `ffdb history`")
    return revision


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate up to ``revision``; returns the revision the database is at afterwards."""
    command.upgrade(alembic_config(url), _resolve(revision))
    return revision_of(url)


def downgrade(url: str | URL, revision: str) -> str | None:
    """Migrate down to ``revision`` (``base`` removes every table)."""
    command.downgrade(alembic_config(url), _resolve(revision))
    return revision_of(url)


@functools.cache
def schema_at(revision: str) -> dict[str, frozenset[str]]:
    """The tables and their columns a database has at ``revision`` (``base``: none).

    Read from a scratch SQLite database migrated there: the migrations make the same
    tables and columns on every backend, and nothing else knows the shape of an
    older revision.
    """
    if revision == "base":
        return {}
    with tempfile.TemporaryDirectory(prefix="ffdb-schema-") as folder:
        url = f"sqlite:///{Path(folder) / 'schema.db'}"
        command.upgrade(alembic_config(url), _resolve(revision))
        engine = make_engine(url, poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                return _tables_and_columns(connection)
        finally:
            engine.dispose()


def _tables_and_columns(connection: Connection) -> dict[str, frozenset[str]]:
    found = inspect(connection).get_multi_columns()
    return {
        name: frozenset(str(c["name"]) for c in columns)
        for (_, name), columns in found.items()
        if name != "alembic_version"
    }


def data_a_downgrade_drops(url: str | URL, revision: str) -> list[tuple[str, int]]:
    """What migrating down to ``revision`` would delete: (``table`` or ``table.column``,
    rows or values) for each table it drops that has rows and each column it drops
    that holds values. Empty when the downgrade loses no data."""
    target = schema_at(_resolve(revision))
    engine = make_engine(normalize_url(url), poolclass=pool.NullPool)
    lost: list[tuple[str, int]] = []
    try:
        with engine.connect() as connection:
            for name, columns in sorted(_tables_and_columns(connection).items()):
                kept = target.get(name)
                stored = sql_table(name, *(sql_column(c) for c in columns))
                if kept is None:
                    rows = connection.scalar(select(func.count()).select_from(stored))
                    if rows:
                        lost.append((name, int(rows)))
                    continue
                for dropped in sorted(columns - kept):
                    values = connection.scalar(select(func.count(stored.c[dropped])))
                    if values:
                        lost.append((f"{name}.{dropped}", int(values)))
    finally:
        engine.dispose()
    return lost


def revision_of(url: str | URL) -> str | None:
    engine = make_engine(normalize_url(url), poolclass=pool.NullPool)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def history(current: str | None = None) -> list[RevisionInfo]:
    """The migration chain, newest first, marking the head and ``current``."""
    head = head_revision()
    revisions: list[Script] = list(script_directory().walk_revisions())
    return [
        RevisionInfo(
            revision=script.revision,
            down_revision=_single(script.down_revision),
            message=(script.doc or "").strip(),
            is_head=script.revision == head,
            is_current=script.revision == current,
        )
        for script in revisions
    ]


def _single(down: str | Sequence[str] | None) -> str | None:
    if down is None or isinstance(down, str):
        return down
    return ", ".join(down)


def describe_difference(difference: object) -> str:
    """One of alembic's autogenerate differences, in words."""
    if isinstance(difference, list):  # column modifications come grouped
        return "; ".join(describe_difference(part) for part in difference)
    if not isinstance(difference, tuple) or not difference:
        return repr(difference)
    operation = difference[0]
    if operation in ("add_table", "remove_table"):
        where = "models" if operation == "add_table" else "database"
        return f"table {difference[1].name} exists only in the {where}"
    if operation in ("add_column", "remove_column"):
        where = "models" if operation == "add_column" else "database"
        return f"column {difference[2]}.{difference[3].name} exists only in the {where}"
    if operation in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        item = difference[1]
        where = "models" if operation.startswith("add") else "database"
        kind = "index" if operation.endswith("index") else "constraint"
        return f"{kind} {item.name} on {item.table.name} exists only in the {where}"
    if operation.startswith("modify_"):
        _, _, table, column, _, database_value, model_value = difference
        what = operation.removeprefix("modify_")
        return f"{table}.{column} {what}: database has {database_value}, models have {model_value}"
    return repr(difference)


def check_constraint_drift(connection: Connection) -> list[str]:
    """CHECK constraints present on one side only, by name (alembic does not compare them)."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    differences = []
    for table in tables_in_dependency_order():
        if table.name not in present:
            continue  # reported by compare_metadata already
        declared = {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        found = {str(c["name"]) for c in inspector.get_check_constraints(table.name)}
        differences += [
            f"CHECK {name} on {table.name} exists only in the models"
            for name in sorted(declared - found)
        ]
        differences += [
            f"CHECK {name} on {table.name} exists only in the database"
            for name in sorted(found - declared)
        ]
    return differences


def model_drift(connection: Connection) -> list[str]:
    """How the database's schema differs from the models (empty when they agree).

    Run on a database at head, a difference means the migrations and the models
    disagree. Same comparison as ``alembic check`` (tables, columns, types, indexes,
    unique and foreign keys), plus the names of the CHECK constraints.
    """
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = [describe_difference(d) for d in compare_metadata(context, metadata)]
    return differences + check_constraint_drift(connection)


def _drop_views(connection: Connection) -> None:
    quote = connection.dialect.identifier_preparer.quote
    for view in inspect(connection).get_view_names():
        # The name comes from the database's own catalogue, quoted.
        connection.exec_driver_sql(f"DROP VIEW IF EXISTS {quote(view)}")


def drop_everything(engine: Engine) -> None:
    """Remove every table and view the database has, whatever revision it is at."""
    with engine.begin() as connection:
        integrity.drop_guards(connection)
        _drop_views(connection)
        leftovers = MetaData()
        leftovers.reflect(connection)
        leftovers.drop_all(connection)


def reset(url: str | URL) -> str | None:
    """Drop everything and migrate to head; returns the head revision."""
    normalized = normalize_url(url)
    engine = make_engine(normalized, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            _drop_views(connection)  # a view on our tables would block dropping them
        known = known_revisions()
        if current_revision(engine) in known:
            # The migrations' own teardown first (anything they made besides tables).
            # It runs in one transaction: if something outside our schema blocks it
            # (a foreign table referencing ours: PostgreSQL refuses the DROP, SQLite's
            # env.py finds orphans), nothing changed, and the drop by reflection below
            # removes everything in dependency order instead.
            with contextlib.suppress(Exception):
                command.downgrade(alembic_config(normalized), "base")
        drop_everything(engine)
    finally:
        engine.dispose()
    return upgrade(normalized, "head")
