"""Alembic environment: one migration chain for SQLite and PostgreSQL.

The URL comes from where db.py takes it (``DATABASE_URL``), unless the caller passes
``config.attributes["connection"]`` (tests) or ``config.attributes["database_url"]``
(``ffdb``). All pending revisions run in one transaction. On SQLite, foreign keys are
switched off around the run (table rebuilds would otherwise cascade or fail), checked
with ``PRAGMA foreign_key_check`` before commit, and the integrity triggers are
dropped before and rebuilt after, from the foreign keys the migrated schema declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, pool

from backend.app.database.db import database_url, make_engine, normalize_url
from backend.app.maintenance import integrity
from backend.app.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata


class ForeignKeyViolation(RuntimeError):
    """A migration left rows that break a foreign key; nothing was committed."""


def _url() -> str:
    explicit = config.attributes.get("database_url")
    url = normalize_url(explicit) if explicit else database_url()
    return url.render_as_string(hide_password=False)


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        # SQLite can roll DDL back too: a crash mid-upgrade leaves the old schema.
        transactional_ddl=True,
        **options,
    )


def _destination_is_head() -> bool:
    script = ScriptDirectory.from_config(config)
    argument = context.get_revision_argument()
    if argument is None:  # downgrade to base
        return False
    destination = {s.revision for s in script.get_revisions(argument) if s}
    return destination == set(script.get_heads())


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (``alembic upgrade head --sql``).

    No database answers here, so on SQLite the guard triggers come from the models'
    foreign keys: dropped before the migrations (table rebuilds trip over them) and
    created after them when the script ends at head, where models and schema agree.
    """
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    dialect = context.get_context().dialect
    guards = (
        integrity.guards_for(integrity.metadata_foreign_keys(target_metadata), dialect)
        if dialect.name == "sqlite"
        else {}
    )
    with context.begin_transaction():
        for name in guards:
            context.execute(integrity.drop_statement(name, dialect))
        context.run_migrations()
        if _destination_is_head():
            for statement in guards.values():
                context.execute(statement)


class ForeignKeysStillOn(RuntimeError):
    """An injected SQLite connection is inside a transaction with foreign keys enforced."""


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Switch SQLite's foreign keys off for the run and restore what the connection had.

    The pragma is a no-op inside a transaction, and a table rebuild with foreign keys
    on fails (or deletes children): so an injected connection that has already begun
    is refused with a clear reason instead of failing halfway through a migration.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise ForeignKeysStillOn(
                "migrations need PRAGMA foreign_keys=OFF, which SQLite ignores inside a "
                "transaction: pass a connection that has not begun one"
            )
        yield
        return
    raw: Any = connection.connection.driver_connection
    was_on = raw.execute("PRAGMA foreign_keys").fetchone()[0]
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA foreign_keys={'ON' if was_on else 'OFF'}")


def _assert_no_orphans(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if rows:
        shown = "; ".join(f"{r[0]} rowid {r[1]} -> {r[2]}" for r in rows[:10])
        raise ForeignKeyViolation(f"migration left {len(rows)} orphan row(s): {shown}")


def _run(connection: Connection) -> None:
    with _sqlite_foreign_keys_off(connection):
        _configure(connection=connection)
        with context.begin_transaction():
            integrity.drop_guards(connection)
            context.run_migrations()
            _assert_no_orphans(connection)
            integrity.install_guards(connection)


def run_migrations_online() -> None:
    injected = config.attributes.get("connection")
    if isinstance(injected, Connection):
        _run(injected)
        return
    if isinstance(injected, Engine):  # pytest-alembic hands over an engine
        with injected.connect() as connection:
            _run(connection)
            connection.commit()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
