"""``ffdb`` commands that manage the database itself: migrations, checks, stats, diagrams.

Thin: parse, call ``backend.app.database`` (migrate, health, stats, erd, schema_doc),
print with rich. Every URL is printed redacted.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backend.app.cli import common
from backend.app.cli.app import app
from backend.app.cli.common import (
    CommandError,
    DatabaseUrl,
    open_engine,
    require_existing_sqlite,
    write_output,
)
from backend.app.database.db import DEFAULT_DATABASE_URL, read_only, redacted
from backend.app.maintenance.schema_version import current_revision, head_revision

# What only some commands need is imported inside them: `ffdb current` should not pay
# for the doctor's rules, the migration machinery or the diagram renderer.
if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from backend.app.schemas.problems import Problem

RevisionArgument = Annotated[
    str,
    typer.Argument(help="A revision id, 'head' or 'base' (see `ffdb history`)."),
]


def _say(message: str) -> None:
    """One line of result on stdout, never wrapped (scripts and tests read it). Plain
    text, so the commands that print only this (``current``, ``check``) never load rich;
    the consoles (``common.console``, ``common.error_console``) are made on first use."""
    sys.stdout.write(message + "\n")


def _progress() -> Progress:
    """A progress bar on stderr, so stdout stays the command's result."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=common.error_console,
        transient=True,
    )


def _describe_revision(revision: str | None) -> str:
    if revision is None:
        return "base (no schema)"
    head = head_revision()
    return f"{revision} (head)" if revision == head else f"{revision} (head is {head})"


@app.command()
def upgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision to migrate up to: an id or 'head'.")
    ] = "head",
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    backup: Annotated[
        bool,
        typer.Option(
            "--backup/--no-backup",
            help="On SQLite, first write a backup copy next to the database (default).",
        ),
    ] = True,
) -> None:
    """Migrate the database up to REVISION (default: head); creates a SQLite file if needed.

    A SQLite database the upgrade changes is first backed up next to itself (the path is
    printed); `ffdb restore BACKUP` brings it back.

    Example: ffdb upgrade --database-url postgresql+psycopg://user@host/db
    """
    from backend.app.maintenance import migrate
    from backend.app.maintenance.backup import BackupError, backup_before_migration

    if backup:
        try:
            saved = backup_before_migration(database_url, revision)
        except BackupError as error:
            raise CommandError(f"{error}; not upgrading (--no-backup skips the backup)") from None
        if saved is not None:
            _say(f"Backed up {redacted(database_url)} to {saved}")
    with common.error_console.status(f"Migrating {redacted(database_url)} to {revision}..."):
        reached = migrate.upgrade(database_url, revision)
    _say(f"{redacted(database_url)} is at {_describe_revision(reached)}")


@app.command()
def downgrade(
    revision: RevisionArgument,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="Confirm a downgrade that drops tables or columns holding data."
        ),
    ] = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Migrate the database down to REVISION ('base' removes every table and its data).

    A downgrade that would drop rows (or columns holding values) is refused unless
    --yes is given; a SQLite database is backed up next to itself first.

    Example: ffdb downgrade 0001 --yes
    """
    from backend.app.maintenance import migrate
    from backend.app.maintenance.backup import BackupError, backup_before_migration

    require_existing_sqlite(database_url)
    lost = migrate.data_a_downgrade_drops(database_url, revision)
    if lost and not yes:
        what = ", ".join(f"{name} ({count:,})" for name, count in lost)
        raise CommandError(
            f"downgrading {redacted(database_url)} to {revision} deletes data: {what}; "
            "add --yes to confirm (a SQLite database is backed up first)",
            exit_code=2,
        )
    try:
        saved = backup_before_migration(database_url, revision)
    except BackupError as error:
        raise CommandError(f"{error}; not downgrading") from None
    if saved is not None:
        _say(f"Backed up {redacted(database_url)} to {saved}")
    with common.error_console.status(f"Migrating {redacted(database_url)} down to {revision}..."):
        reached = migrate.downgrade(database_url, revision)
    _say(f"{redacted(database_url)} is at {_describe_revision(reached)}")


@app.command()
def current(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Print the revision the database is at, and whether that is the head.

    Example: ffdb current
    """
    with open_engine(database_url, require_schema=False, must_exist=True) as engine:
        revision = current_revision(engine)
    _say(_describe_revision(revision))


@app.command()
def history(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """List the migration chain, newest first, marking the head and the database's revision.

    Example: ffdb history
    """
    from rich.table import Table

    from backend.app.maintenance import migrate

    revision = None
    try:
        require_existing_sqlite(database_url)
    except CommandError:
        pass  # no database yet: the chain is still worth showing
    else:
        with open_engine(database_url, require_schema=False) as engine:
            revision = current_revision(engine)
    table = Table(title=f"Migrations ({redacted(database_url)})")
    for column in ("revision", "down revision", "description", ""):
        table.add_column(column)
    for step in migrate.history(revision):
        marks = ", ".join(
            mark for mark, on in (("head", step.is_head), ("current", step.is_current)) if on
        )
        table.add_row(step.revision, step.down_revision or "(base)", step.message, marks)
    common.console.print(table)


@app.command()
def check(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Exit 1 with the reason unless the database is at head, matches the models, and has
    its SQLite foreign-key guard triggers; exit 0 otherwise. For scripts and CI.

    Example: ffdb check && echo ready
    """
    from backend.app.maintenance.schema_check import schema_problem

    with open_engine(database_url, require_schema=False, must_exist=True) as engine:
        problem = schema_problem(engine)
    if problem:
        raise CommandError(problem)
    _say(f"OK: {redacted(database_url)} is at head ({head_revision()}), matches the models")


def _problem_table(problems: list[Problem]) -> Table:
    from rich.table import Table

    table = Table(title=f"{len(problems)} problem(s)")
    for column in ("check", "table", "key", "problem"):
        table.add_column(column, overflow="fold")
    for problem in problems:
        table.add_row(problem.check, problem.table, problem.key, problem.detail)
    return table


@app.command()
def doctor(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the problems as a JSON list (for tools).")
    ] = False,
) -> None:
    """Look inside the database for damage: SQLite's integrity and foreign-key checks,
    missing guard triggers, PostgreSQL constraints and indexes that are not valid, and
    rows that break the models' foreign keys or CHECK rules. Exit 1 if anything is found.

    Example: ffdb doctor --json > problems.json
    """
    from backend.app.domain import doctor as doctor_checks
    from backend.app.maintenance import health

    problems: list[Problem] = []
    with (
        open_engine(database_url) as engine,
        read_only(engine).connect() as connection,
        _progress() as progress,
    ):
        task = progress.add_task("Checking", total=len(doctor_checks.CHECKS))
        for check_function in doctor_checks.CHECKS:
            progress.update(task, description=f"Checking {health.check_name(check_function)}")
            # A check that fails is itself a finding; the others still run.
            problems.extend(
                health.run_isolated(
                    connection,
                    health.check_name(check_function),
                    functools.partial(check_function, connection),
                )
            )
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(p) for p in problems], indent=2))
    if problems:
        if not as_json:
            common.console.print(_problem_table(problems))
        raise CommandError(f"{len(problems)} problem(s) found in {redacted(database_url)}")
    if not as_json:
        _say(f"OK: no problems found in {redacted(database_url)}")


@app.command()
def stats(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Show rows per table, database size, revision, backend and URL.

    Example: ffdb stats
    """
    from rich.table import Table

    from backend.app.maintenance import stats as stats_module

    names = stats_module.table_names()
    counts: dict[str, int] = {}
    with (
        open_engine(database_url) as engine,
        read_only(engine).connect() as connection,
        _progress() as progress,
    ):
        task = progress.add_task("Counting rows", total=len(names))
        for name in names:
            counts[name] = stats_module.count_rows(connection, name)
            progress.advance(task)
        size = stats_module.database_size(connection)
        revision = current_revision(connection)
        backend = connection.dialect.name
    summary = Table(title="Database", show_header=False)
    summary.add_column("field")
    summary.add_column("value")
    summary.add_row("url", redacted(database_url))
    summary.add_row("backend", backend)
    summary.add_row("revision", _describe_revision(revision))
    summary.add_row("size", stats_module.human_size(size))
    rows = Table(title=f"Rows per table ({len(names)} tables)")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name in names:
        rows.add_row(name, f"{counts[name]:,}")
    rows.add_section()
    rows.add_row("total", f"{sum(counts.values()):,}")
    common.console.print(summary)
    common.console.print(rows)


@app.command()
def reset(
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: every table and all data are dropped.")
    ] = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Drop everything in the database and migrate a fresh schema to head.

    Example: ffdb reset --yes
    """
    from backend.app.maintenance import migrate

    if not yes:
        raise CommandError(
            f"reset drops every table and all data in {redacted(database_url)}: "
            "add --yes to confirm",
            exit_code=2,
        )
    with common.error_console.status(f"Resetting {redacted(database_url)}..."):
        reached = migrate.reset(database_url)
    _say(f"{redacted(database_url)} reset: empty schema at {_describe_revision(reached)}")


def _write_or_print(content: str, output: Path | None) -> None:
    if output is None:
        typer.echo(content, nl=False)
        return
    write_output(output, lambda out: out.write(content))
    _say(f"wrote {output}")


OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="File to write (default: print to stdout).", dir_okay=False
    ),
]


@app.command()
def erd(output: OutputOption = None) -> None:
    """Draw the entity-relationship diagram of the models (Mermaid, by paracelsus).

    A .md output gets a Markdown page that GitHub renders as a picture; any other
    path, or stdout, gets bare Mermaid source.

    Example: ffdb erd --output docs/erd.md
    """
    from backend.app.maintenance import erd as erd_module

    _write_or_print(erd_module.render(output.suffix if output else ""), output)


@app.command("schema-doc")
def schema_doc(output: OutputOption = None) -> None:
    """Write the schema reference (tables, columns, types per backend, constraints,
    indexes) as Markdown, generated from the models.

    Example: ffdb schema-doc --output docs/schema.md
    """
    from backend.app.maintenance import schema_doc as schema_doc_module

    _write_or_print(schema_doc_module.markdown(), output)
