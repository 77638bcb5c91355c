"""Where the migrations live and which revision a database is at.

The migrations ship inside the ``backend`` package, so ``ffdb`` finds them from any
working directory, exactly as ``alembic`` does from ``backend/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL

from backend.app.database.db import normalize_url, read_only

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BACKEND_DIR = Path(__file__).resolve().parents[2]
ALEMBIC_INI = BACKEND_DIR / "alembic.ini"
MIGRATIONS_DIR = BACKEND_DIR / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the revision this code expects."""


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """Alembic configuration for ``url`` (default: ``DATABASE_URL``) or a live connection."""
    from alembic.config import Config

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
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


# The two assignments every revision file makes (``script.py.mako``).
_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _chain_from_files() -> tuple[set[str], set[str]] | None:
    """(revisions, revisions that something revises) read from the files alone, or None
    if a file says it in a way this reader does not follow."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        try:
            value = ast.literal_eval(revision.group(1))
            parents = ast.literal_eval(down.group(1))
        except (ValueError, SyntaxError):
            return None
        if not isinstance(value, str):
            return None
        revisions.add(value)
        if isinstance(parents, str):
            revised.add(parents)
        elif isinstance(parents, tuple | list):
            revised.update(str(parent) for parent in parents)
        elif parents is not None:
            return None
    return revisions, revised


def head_revision() -> str:
    """The newest revision of the migrations.

    Read from the revision files' ``revision``/``down_revision`` lines: the commands
    that only compare it with the database (``current``, ``check``, ``stats``, every
    import) need not load Alembic's script machinery. Anything unusual (several heads,
    a file this reader cannot follow) is left to Alembic, which explains it.
    """
    chain = _chain_from_files()
    if chain is not None:
        revisions, revised = chain
        heads = revisions - revised
        if len(heads) == 1:
            return heads.pop()
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the chain always has a first revision
        raise RuntimeError("the migration chain has no revisions")
    return head


def _stamped(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise SchemaOutOfDate(f"database is stamped with several revisions: {sorted(versions)}")
    return str(versions[0]) if versions else None


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision stamped in the database (Alembic's ``alembic_version`` table), or
    None for a database never migrated. Plain SQL: no Alembic needed to read one row.

    Given an engine, asks as a reader (DEFERRED on SQLite): looking never waits for,
    nor holds up, a writer."""
    if isinstance(bind, Engine):
        with read_only(bind).connect() as connection:
            return _stamped(connection)
    return _stamped(bind)


def known_revisions() -> set[str]:
    chain = _chain_from_files()
    if chain is not None:
        return chain[0]
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
