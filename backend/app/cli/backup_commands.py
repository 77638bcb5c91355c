"""``ffdb backup`` and ``ffdb restore``: SQLite online backups (see database/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backend.app.cli.app import app
from backend.app.cli.common import CommandError, console
from backend.app.cli.common import DatabaseUrl as DatabaseUrlOption
from backend.app.database.db import DEFAULT_DATABASE_URL, redacted
from backend.app.maintenance.backup import BackupError, backup_sqlite, restore_sqlite
from backend.app.maintenance.schema_version import head_revision


def _say(message: str) -> None:
    console.print(message, highlight=False, soft_wrap=True, markup=False)


@app.command()
def backup(database_url: DatabaseUrlOption = DEFAULT_DATABASE_URL) -> None:
    """Write a consistent copy of a SQLite database next to it, while agents keep working.

    Example: ffdb backup
    """
    try:
        saved = backup_sqlite(database_url)
    except BackupError as error:
        raise CommandError(str(error)) from None
    _say(f"Backed up {redacted(database_url)} to {saved}")


@app.command()
def restore(
    backup_file: Annotated[
        Path, typer.Argument(metavar="BACKUP", help="A file written by `ffdb backup` or upgrade.")
    ],
    database_url: DatabaseUrlOption = DEFAULT_DATABASE_URL,
) -> None:
    """Replace a SQLite database with a backup; what it held before is backed up first.

    Refuses a file that is not a sound backup of a fashion-forecast database, and a
    database that another process has open.

    Example: ffdb restore fashion_forecast.db.backup-0001-20260101T000000000000Z
    """
    try:
        result = restore_sqlite(backup_file, database_url)
    except BackupError as error:
        raise CommandError(str(error)) from None
    _say(f"Restored {backup_file} into {redacted(database_url)} (revision {result.revision})")
    if result.previous is not None:
        _say(f"What it held before is saved in {result.previous}")
    if result.revision != head_revision():
        _say(f"The database is not at head ({head_revision()}): run `ffdb upgrade`")
