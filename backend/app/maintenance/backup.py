"""Online backups of a SQLite database, and restoring one.

Both directions go through SQLite's online backup API (``sqlite3.Connection.backup``),
never a file copy: a copied file taken while a writer is active can miss the pages still
in the WAL, or catch half of a checkpoint. The backup API copies one consistent snapshot
while other connections keep reading and writing.

A backup is written next to the database as ``<name>.backup-<revision>-<UTC time>``,
first under a ``.partial`` name and renamed once complete and synced, so a crash never
leaves a file that looks like a finished backup. It is a self-contained single file
(rollback-journal mode, no ``-wal`` beside it).

Restoring refuses a backup that is not a sound SQLite database made by this code (its
``alembic_version`` must name a revision of our migration chain), and refuses a target
database that any other connection has open: an agent must not have its data replaced
underneath it. The database being replaced is itself backed up first.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from backend.app.database.db import (
    SQLITE_COMPANION_SUFFIXES,
    normalize_url,
    redacted,
    sqlite_file,
)
from backend.app.maintenance.migrate import schema_at
from backend.app.maintenance.schema_version import head_revision, known_revisions

__all__ = [
    "BackupError",
    "RestoreResult",
    "backup_before_migration",
    "backup_sqlite",
    "database_in_the_way",
    "not_our_database",
    "read_backup",
    "restore_sqlite",
]

SQLITE_HEADER = b"SQLite format 3\x00"
BACKUP_INFIX = ".backup-"
NO_REVISION = "unmigrated"
_BUSY_TIMEOUT_SECONDS = 30.0


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    database: Path
    revision: str
    previous: Path | None  # the backup of what the database held before the restore


def database_file(url: str | URL) -> Path:
    """The database file a SQLite URL names; refuses other backends and in-memory URLs."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"backups here are for SQLite databases; {redacted(parsed)} is "
            f"{parsed.get_backend_name()} (use the server's own tools, e.g. pg_dump)"
        )
    path = sqlite_file(parsed)
    if path is None:
        raise BackupError("an in-memory SQLite database has no file to back up or restore")
    return path.resolve()


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is a file that starts as every SQLite database does."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def database_in_the_way(output: Path, url: str | URL | None) -> str | None:
    """Why writing ``output`` would destroy a database, or None when it would not.

    ``output`` (symlinks and relative parts resolved) must not be the database ``url``
    names, one of its ``-wal``/``-shm``/``-journal`` files or one of its backups, nor
    any other existing SQLite database: a command that writes a CSV or a document
    never replaces one.
    """
    target = output.resolve()
    database = None
    if url is not None:
        try:
            found = sqlite_file(url)
        except Exception:  # an unparseable URL is reported by whoever connects to it
            found = None
        database = found.resolve() if found is not None else None
    if database is not None:
        same = target == database or (
            target.exists() and database.exists() and os.path.samefile(target, database)
        )
        if same:
            return f"{output} is the database itself ({database})"
        if target.parent == database.parent:
            if target.name in {database.name + s for s in SQLITE_COMPANION_SUFFIXES}:
                return f"{output} is part of the database {database} (its journal)"
            if target.name.startswith(database.name + BACKUP_INFIX):
                return f"{output} is a backup of the database {database}"
    if target.is_file() and is_sqlite_file(target):
        return f"{output} is a SQLite database; not overwriting it"
    return None


def not_our_database(path: Path) -> str | None:
    """Why the file at ``path`` is not ours to delete, or None: no file, an empty one, an
    empty SQLite database, or a SQLite database at a revision of our migration chain."""
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} is not a file"
    if path.stat().st_size == 0:
        return None
    if not is_sqlite_file(path):
        return f"{path} is not a SQLite database"
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_SECONDS)) as found:
            tables = found.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            revision = _revision(found)
    except sqlite3.Error as error:
        return f"{path} is not a readable SQLite database ({error})"
    if tables == 0:
        return None
    known = known_revisions()
    if revision not in known:
        return f"{path} is not a fashion-forecast database (no revision of ours)"
    return None


def _revision(connection: sqlite3.Connection) -> str | None:
    has_table = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if not has_table:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _copy_to_new_file(source: sqlite3.Connection, database: Path) -> Path:
    """Back up ``source`` (a connection to ``database``) next to it; returns the new file."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    partial = database.with_name(f"{database.name}{BACKUP_INFIX}{stamp}.partial")
    try:
        with closing(sqlite3.connect(partial, isolation_level=None)) as target:
            # One step (pages=-1): the whole copy is taken from one read snapshot.
            source.backup(target, pages=-1)
            # A backup is one self-contained file, not a WAL database with side files.
            target.execute("PRAGMA journal_mode=DELETE")
            revision = _revision(target) or NO_REVISION
        _sync(partial)
        final = database.with_name(f"{database.name}{BACKUP_INFIX}{revision}-{stamp}")
        if final.exists():
            raise BackupError(f"{final} already exists; not overwriting a backup")
        os.replace(partial, final)
        _sync(final.parent)
        return final
    finally:
        partial.unlink(missing_ok=True)


def backup_sqlite(url: str | URL) -> Path:
    """Write a consistent copy of the SQLite database at ``url`` next to it; returns its path.

    Safe while other connections read and write: they are not blocked, and the copy
    holds exactly the transactions committed when it started.
    """
    database = database_file(url)
    if not database.is_file():
        raise BackupError(f"no database to back up: {database} does not exist")
    try:
        with closing(sqlite3.connect(database, timeout=_BUSY_TIMEOUT_SECONDS)) as source:
            return _copy_to_new_file(source, database)
    except sqlite3.Error as error:
        raise BackupError(f"could not back up {database}: {error}") from error


def backup_before_migration(url: str | URL, target: str = "head") -> Path | None:
    """Back up a SQLite database a migration (up or down) to ``target`` is about to change.

    Returns None when there is nothing to keep: another backend (its own tools back it
    up), no file yet, or a database already at ``target``.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = database_file(parsed)
    if not database.is_file():
        return None
    wanted = {"head": head_revision(), "heads": head_revision(), "base": None}.get(target, target)
    try:
        with closing(sqlite3.connect(database, timeout=_BUSY_TIMEOUT_SECONDS)) as connection:
            if _revision(connection) == wanted:
                return None
    except sqlite3.Error as error:
        raise BackupError(f"could not read {database} before migrating it: {error}") from error
    return backup_sqlite(parsed)


def read_backup(path: Path) -> str:
    """Check that ``path`` is a sound backup of one of our databases; returns its revision."""
    if not path.is_file():
        raise BackupError(f"no such backup file: {path}")
    if not is_sqlite_file(path):
        raise BackupError(f"{path} is not a SQLite database")
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as backup:
            problems = [row[0] for row in backup.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise BackupError(f"{path} is damaged: {problems[0]}")
            revision = _revision(backup)
            found = _tables_and_columns(backup)
    except sqlite3.Error as error:
        raise BackupError(f"{path} is not a readable SQLite database: {error}") from error
    if revision is None:
        raise BackupError(
            f"{path} is not a fashion-forecast database (it has no alembic_version revision)"
        )
    known = known_revisions()
    if revision not in known:
        raise BackupError(
            f"{path} is at revision {revision}, which this version of ffdb does not know "
            "(made by a newer version, or not a fashion-forecast database)"
        )
    missing = _missing_schema(found, schema_at(revision))
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise BackupError(
            f"{path} claims revision {revision} but lacks {', '.join(missing[:3])}{more}: "
            "not a sound backup, nothing was replaced"
        )
    return revision


def _tables_and_columns(connection: sqlite3.Connection) -> dict[str, set[str]]:
    names = [
        str(row[0])
        for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    return {
        name: {
            str(row[1]) for row in connection.execute("SELECT * FROM pragma_table_info(?)", (name,))
        }
        for name in names
    }


def _missing_schema(found: dict[str, set[str]], expected: dict[str, frozenset[str]]) -> list[str]:
    """The tables and columns ``expected`` has that ``found`` lacks, by name."""
    missing = [f"table {name}" for name in sorted(expected) if name not in found]
    for name in sorted(set(expected) & set(found)):
        missing += [f"column {name}.{column}" for column in sorted(expected[name] - found[name])]
    return missing


def _lock_exclusively(database: Path) -> sqlite3.Connection:
    """A connection that holds the database alone, or BackupError if anyone else has it open.

    In WAL mode an EXCLUSIVE locking-mode connection can only start while no other
    connection has the database open, even an idle one: exactly "not in use".
    """
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        connection.execute("COMMIT")  # the lock stays: locking_mode is EXCLUSIVE
    except sqlite3.OperationalError as error:
        connection.close()
        if "locked" in str(error) or "busy" in str(error):
            raise BackupError(
                f"{database} is in use by another connection: stop the agents and ffdb "
                "commands using it, then restore"
            ) from error
        raise BackupError(f"could not open {database}: {error}") from error
    return connection


def restore_sqlite(backup_path: Path, url: str | URL) -> RestoreResult:
    """Replace the database at ``url`` with the backup at ``backup_path``.

    Refuses an unsound or foreign backup and a database in use. What the database held
    before is backed up first (``RestoreResult.previous``), so a restore can be undone.
    """
    revision = read_backup(backup_path)
    database = database_file(url)
    if database == backup_path.resolve():
        raise BackupError(f"{backup_path} is the database itself, not a backup of it")
    database.parent.mkdir(parents=True, exist_ok=True)
    existed = database.exists()
    target = _lock_exclusively(database)
    try:
        previous: Path | None = None
        if existed:
            try:
                previous = _copy_to_new_file(target, database)
            except sqlite3.Error as error:
                raise BackupError(
                    f"could not save the current {database} before restoring ({error}); "
                    "move it away by hand, then restore"
                ) from error
        uri = f"{backup_path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as source:
            source.backup(target, pages=-1)
        # Back to WAL, the mode every connection of ours expects to find.
        target.execute("PRAGMA locking_mode=NORMAL")
        target.execute("PRAGMA journal_mode=WAL").fetchone()
    except sqlite3.Error as error:
        raise BackupError(f"could not restore {backup_path} into {database}: {error}") from error
    finally:
        target.close()
    return RestoreResult(database=database, revision=revision, previous=previous)
