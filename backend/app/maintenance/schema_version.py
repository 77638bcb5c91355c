"""Where the migrations live and which revision a database is at.

The migrations ship inside the ``backend`` package, so ``ffdb`` finds them from any
working directory, exactly as ``alembic`` does from ``backend/``.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from backend.app.database.db import normalize_url, read_only

BACKEND_DIR = Path(__file__).resolve().parents[2]
ALEMBIC_INI = BACKEND_DIR / "alembic.ini"
MIGRATIONS_DIR = BACKEND_DIR / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the revision this code expects."""


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """Alembic configuration for ``url`` (default: ``DATABASE_URL``) or a live connection."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Callers print their own output; alembic.ini's logging is for the alembic CLI.
    config.attributes["configure_logging"] = False
    if url is not None:
        config.attributes["database_url"] = normalize_url(url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the chain always has a first revision
        raise RuntimeError("the migration chain has no revisions")
    return head


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision stamped in the database, or None for a database never migrated.

    Given an engine, asks as a reader (DEFERRED on SQLite): looking never waits for,
    nor holds up, a writer."""
    if isinstance(bind, Engine):
        with read_only(bind).connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return MigrationContext.configure(bind).get_current_revision()


def require_current(bind: Engine | Connection) -> None:
    """Refuse to work on a database whose schema is not the one this code was written for."""
    current = current_revision(bind)
    head = head_revision()
    if current != head:
        found = f"revision {current}" if current else "no schema (never migrated)"
        raise SchemaOutOfDate(f"database has {found}, this code needs {head}: run `ffdb upgrade`")
