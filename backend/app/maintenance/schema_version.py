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


def known_revisions() -> set[str]:
    return {script.revision for script in script_directory().walk_revisions()}


def not_at_head(current: str | None) -> str | None:
    """Why a database at ``current`` is not fit for this code, with advice that works;
    None at head. An unknown revision is not fixed by `ffdb upgrade` (it fails there)."""
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return (
            f"database has no schema (never migrated), this code needs {head}: run `ffdb upgrade`"
        )
    if current not in known_revisions():
        return (
            f"database is at revision {current}, which this version of ffdb does not know "
            f"(it needs {head}; a newer ffdb wrote it, or it is not a fashion-forecast "
            "database): use the ffdb that wrote it, or `ffdb restore` a backup"
        )
    return f"database has revision {current}, this code needs {head}: run `ffdb upgrade`"


def require_current(bind: Engine | Connection) -> None:
    """Refuse to work on a database whose schema is not the one this code was written for."""
    reason = not_at_head(current_revision(bind))
    if reason is not None:
        raise SchemaOutOfDate(reason)
