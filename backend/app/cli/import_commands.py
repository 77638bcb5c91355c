"""``ffdb import stores|historical-sales|actuals`` and ``ffdb export``: thin wrappers.

Parsing, validation and writing live in ``backend.app.ingest``; here we choose the
engine, draw the progress bar (on stderr, only on a terminal) and print the outcome
or the problems, one ``FILE:LINE: column: what is wrong (value)`` per line.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from backend.app.cli.app import app
from backend.app.cli.common import (
    CommandError,
    DatabaseUrl,
    console,
    error_console,
    open_engine,
    write_file_output,
    write_output,
)
from backend.app.database.db import DEFAULT_DATABASE_URL
from backend.app.database.retry import DEFAULT_POLICY, RetryPolicy, retry_transient
from backend.app.ingest.actuals import UnknownForecast, import_actuals
from backend.app.ingest.export import ExportError, export_table
from backend.app.ingest.historical_sales import NewSeason, import_historical_sales
from backend.app.ingest.options import ImportOptions
from backend.app.ingest.outcome import ImportResult
from backend.app.ingest.problems import DEFAULT_PROBLEM_LIMIT, ImportRejected
from backend.app.ingest.reader import ProgressCallback
from backend.app.ingest.source import ImportSource, import_source
from backend.app.maintenance.definitions import WEEKDAY_NAMES, Weekday

import_app = typer.Typer(
    name="import",
    help="Load a retailer's CSV exports: validated, in one transaction, re-runnable.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

CsvPath = Annotated[
    Path,
    typer.Argument(help="The CSV file (UTF-8, a BOM is fine); - reads standard input."),
]
StreamName = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="The name problems give the file (NAME:LINE) [default: the path; <stdin> for -].",
    ),
]
STDIN = Path("-")
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Validate and report what would change; write nothing.")
]
Replace = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Also delete stored rows in the range the file covers that it lacks "
        "(actuals: and change values already loaded).",
    ),
]
MaxProblems = Annotated[
    int, typer.Option("--max-problems", min=1, help="Problems to list before '... and N more'.")
]


def _source(file: Path, name: str | None) -> ImportSource:
    """The file to import: ``-`` is standard input (binary, left open)."""
    if file == STDIN:
        return import_source(sys.stdin.buffer, name or "<stdin>")
    return import_source(file, name)


@contextmanager
def _progress(source: ImportSource) -> Iterator[ProgressCallback | None]:
    """A bar with rows and rows/s on stderr, for people watching a terminal only."""
    if not error_console.is_terminal:
        yield None
        return
    # Loaded only here: a script or a pipe never sees the bar, so it does not pay for it.
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    size = source.size
    label = source.file_name
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows  {task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns, console=error_console, transient=True) as bar:
        task = bar.add_task(label, total=size or None, rows=0, rate=0.0)

        def advance(rows: int, position: int) -> None:
            elapsed = max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=position, rows=rows, rate=rows / elapsed)
            if size and position >= size:  # read: the database part follows
                bar.update(task, description=f"{label}: checking and writing")

        yield advance


# glibc's mallopt parameter and its initial (default) value.
_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD = -3, 128 * 1024


def _large_buffers_returned_when_freed() -> None:
    """Pin glibc's mmap threshold at its default. glibc raises it to the size of each
    large buffer freed, so after the first block the drivers' block buffers (CSV, Arrow,
    COPY data: megabytes each, one block after another) come from the heap and stay
    resident as fragments: 15-20 MB more at 1,000,000 rows. Pinned, each gets its own
    mapping, given back when freed. Other C libraries, and a user's own
    MALLOC_MMAP_THRESHOLD_, are left alone."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)


def _run(source: ImportSource, load: Callable[[ProgressCallback | None], ImportResult]) -> None:
    _large_buffers_returned_when_freed()
    # Each import is one transaction that rolls back on failure, so a transient fault (a
    # lock held past the busy timeout, a dropped connection) is retried, reading the
    # source again from its start; a pipe cannot be read twice, so it is tried once.
    rewind = source.rewinder()
    policy = DEFAULT_POLICY if rewind is not None else RetryPolicy(attempts=1)
    tries = 0

    def attempt(progress: ProgressCallback | None) -> ImportResult:
        nonlocal tries
        if tries and rewind is not None:
            rewind()
        tries += 1
        return load(progress)

    try:
        with _progress(source) as progress:
            result = retry_transient(lambda: attempt(progress), policy)
    except ImportRejected as rejected:
        for line in rejected.lines():
            error_console.print(line, markup=False, highlight=False, soft_wrap=True)
        plural = "s" if rejected.total != 1 else ""
        # Short: each problem line above already names the file (long paths would wrap).
        raise CommandError(f"{rejected.total} problem{plural}; nothing was imported") from None
    except UnknownForecast as error:
        raise CommandError(str(error)) from None
    console.print(result.summary(), markup=False, highlight=False, soft_wrap=True)


def _options(dry_run: bool, replace: bool, max_problems: int) -> ImportOptions:
    return ImportOptions(dry_run=dry_run, replace=replace, limit=max_problems)


@import_app.command("stores")
def import_stores_command(
    file: CsvPath,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    dry_run: DryRun = False,
    replace: Replace = False,
    max_problems: MaxProblems = DEFAULT_PROBLEM_LIMIT,
    name: StreamName = None,
) -> None:
    """Stores from the 13-column store-attributes export (extra columns are kept)."""
    from backend.app.ingest.stores import import_stores

    options = _options(dry_run, replace, max_problems)
    source = _source(file, name)
    with open_engine(database_url) as engine:
        _run(
            source,
            lambda progress: import_stores(engine, source, options.with_progress(progress)),
        )


WeekdayName = enum.StrEnum("WeekdayName", [(name, name) for name in WEEKDAY_NAMES])  # type: ignore[misc]


@import_app.command("historical-sales")
def import_historical_sales_command(
    file: CsvPath,
    week_starts: Annotated[
        WeekdayName | None,
        typer.Option(
            "--week-starts",
            help="The weekday a daily file's rows are summed into weeks from (and a weekly "
            "file's weeks must start on) [default: that of the stored history, else monday].",
            show_default=False,
        ),
    ] = None,
    season_start: Annotated[
        datetime | None,
        typer.Option(
            "--season-start",
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="First day of the season of categories this file creates (with --season-weeks).",
        ),
    ] = None,
    season_weeks: Annotated[
        int | None,
        typer.Option(
            "--season-weeks", min=1, metavar="N", help="Weeks of that season (with --season-start)."
        ),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    dry_run: DryRun = False,
    replace: Replace = False,
    max_problems: MaxProblems = DEFAULT_PROBLEM_LIMIT,
    name: StreamName = None,
) -> None:
    """Weekly rows (week_start_date,store_id,category_id,units_sold) or a daily export
    (date,store_id,category,quantity_sold[,revenue]) summed into weeks."""
    if (season_start is None) != (season_weeks is None):
        raise CommandError("give --season-start and --season-weeks together")
    season = (
        NewSeason(season_start.date(), season_weeks)
        if season_start is not None and season_weeks is not None
        else None
    )
    weekday = None if week_starts is None else Weekday.parse(week_starts.value)
    options = _options(dry_run, replace, max_problems)
    source = _source(file, name)
    with open_engine(database_url) as engine:
        _run(
            source,
            lambda progress: import_historical_sales(
                engine,
                source,
                options.with_progress(progress),
                week_starts=weekday,
                season=season,
            ),
        )


@import_app.command("actuals")
def import_actuals_command(
    file: CsvPath,
    forecast_id: Annotated[
        str, typer.Option("--forecast-id", help="The forecast these sales are measured against.")
    ],
    week: Annotated[
        int | None,
        typer.Option(
            "--week",
            min=1,
            max=12,
            help="The season week the file holds: its dates must fall in it "
            "[default: the week of its first date].",
        ),
    ] = None,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="Load a week that lacks days of a store or stores of the allocation.",
        ),
    ] = False,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    dry_run: DryRun = False,
    replace: Replace = False,
    max_problems: MaxProblems = DEFAULT_PROBLEM_LIMIT,
    name: StreamName = None,
) -> None:
    """A week of daily actuals (date,store_id,quantity_sold) or weekly rows
    (store_id,week_number,units_sold) against a forecast."""
    options = _options(dry_run, replace, max_problems)
    source = _source(file, name)
    with open_engine(database_url) as engine:
        _run(
            source,
            lambda progress: import_actuals(
                engine,
                source,
                forecast_id,
                options.with_progress(progress),
                week=week,
                allow_partial=allow_partial,
            ),
        )


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


@app.command("export")
def export_command(
    table: Annotated[str, typer.Argument(help="The table: stores, historical_sales, ...")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here [default: stdout].")
    ] = None,
    forecast_id: Annotated[
        str | None, typer.Option("--forecast-id", help="For actual_sales: whose actuals.")
    ] = None,
    file_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="csv, or parquet (typed columns: dates, integers, JSON as text; needs --output).",
        ),
    ] = ExportFormat.CSV,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """A table as CSV (or Parquet) that `ffdb import` reads back unchanged."""
    if file_format is ExportFormat.PARQUET and output is None:
        raise CommandError("--format parquet writes a file: give --output FILE")
    with open_engine(database_url) as engine:
        try:
            if file_format is ExportFormat.PARQUET:
                from backend.app.ingest.parquet_export import export_parquet

                assert output is not None
                count = write_file_output(
                    output,
                    lambda partial: export_parquet(engine, table, partial, forecast_id=forecast_id),
                    database_url,
                )
            elif output is None:
                export_table(engine, table, sys.stdout, forecast_id=forecast_id)
                return
            else:
                count = write_output(
                    output,
                    lambda out: export_table(engine, table, out, forecast_id=forecast_id),
                    database_url,
                )
        except ExportError as error:
            raise CommandError(str(error)) from None
    error_console.print(
        f"{count} rows of {table} written to {output}", markup=False, highlight=False
    )
