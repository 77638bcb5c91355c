"""``ffdb transfer --to URL``: copy the whole database into another one (SQLite -> PostgreSQL)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.exc import ArgumentError, OperationalError

from backend.app.cli.app import app
from backend.app.cli.common import CommandError, DatabaseUrl, console
from backend.app.database.db import (
    DEFAULT_DATABASE_URL,
    make_engine,
    normalize_url,
    redacted,
    sqlite_file,
)
from backend.app.maintenance.transfer import (
    DEFAULT_BATCH_SIZE,
    TransferError,
    TransferReport,
    transfer,
)


class _ProgressBars:
    """One bar per table, filled as batches land on the target."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def table_started(self, table: str, total_rows: int) -> None:
        self.tasks[table] = self.progress.add_task(table, total=total_rows)

    def rows_copied(self, table: str, rows: int) -> None:
        self.progress.advance(self.tasks[table], rows)

    def table_finished(self, table: str, rows: int) -> None:
        self.progress.update(self.tasks[table], completed=rows, total=rows)


def _connect(url: str, role: str) -> Engine:
    """An engine on ``url`` that has answered once, or a one-line error naming it."""
    try:
        parsed = normalize_url(url)
    except (ArgumentError, ValueError):
        # The parser's message repeats the URL, password and all: say less.
        raise CommandError(f"the {role} URL is not a valid SQLAlchemy URL") from None
    where = redacted(parsed)
    database = sqlite_file(parsed)
    # Connecting would create an empty file: a missing database is a mistake here.
    if database is not None and not database.is_file():
        hint = " (create it with `ffdb upgrade --database-url ...`)" if role == "target" else ""
        raise CommandError(f"the {role} database {database} does not exist{hint}")
    try:
        engine = make_engine(parsed)
    except Exception as error:  # e.g. a driver that is not installed
        raise CommandError(f"the {role} {where} is not usable: {error}") from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise CommandError(f"cannot reach the {role} {where}: {reason}") from None
    return engine


def _print_report(report: TransferReport, source: str, target: str) -> None:
    table = Table(title=None, show_edge=False, box=None, pad_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for copy in report.tables:
        table.add_row(copy.table, f"{copy.rows:,}")
    console.print(table)
    if report.emptied:
        replaced = ", ".join(f"{t.table} ({t.rows:,})" for t in report.emptied)
        console.print(
            f"--force: deleted the target's previous rows in {replaced}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    console.print(
        f"copied {report.total_rows:,} rows in {len(report.tables)} tables from {source} "
        f"to {target} (revision {report.revision}, {report.method}); one transaction, committed",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


@app.command("transfer")
def transfer_command(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="URL of the target database, already migrated to the source's revision "
            "(e.g. postgresql+psycopg://user@host:5432/db).",
            show_default=False,
        ),
    ],
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the target's rows: delete them first, in the same transaction "
            "as the copy (a failed copy keeps them).",
        ),
    ] = False,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, help="Rows read and written per batch."),
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Copy every table of the database into the --to database, in one transaction.

    Parents before children, streamed in batches, all or nothing.
    The target must be migrated to the source's revision
    (`ffdb upgrade --database-url TARGET`) and empty, unless --force.
    """
    source = _connect(database_url, "source")
    try:
        target = _connect(to, "target")
        try:
            with Progress(
                TextColumn("{task.description:<30}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress:
                report = transfer(
                    source,
                    target,
                    force=force,
                    batch_size=batch_size,
                    progress=_ProgressBars(progress),
                )
        except TransferError as error:
            raise CommandError(f"{error}; the target is unchanged") from None
        finally:
            target.dispose()
    finally:
        source.dispose()
    _print_report(report, redacted(source.url), redacted(target.url))
