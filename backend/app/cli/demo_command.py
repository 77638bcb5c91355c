"""``ffdb demo``: a fresh database at head, filled with the sample season, and a report.

Thin: resets the schema through the migration chain, calls
``backend.app.demo.sample_season``, prints what it wrote with rich.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.cli.app import app
from backend.app.cli.common import CommandError, DatabaseUrl, console, error_console
from backend.app.cli.workflow_commands import workflow_table
from backend.app.database.base import Base
from backend.app.database.db import (
    DEFAULT_DATABASE_URL,
    SQLITE_COMPANION_SUFFIXES,
    make_engine,
    normalize_url,
    redacted,
    sqlite_file,
)
from backend.app.demo.sample_season import DEMO_WORKFLOW_PREFIX, DemoSummary, generate_sample_season
from backend.app.maintenance import migrate
from backend.app.maintenance.backup import not_our_database
from backend.app.models import (
    ActualSales,
    Category,
    Forecast,
    WorkflowLog,
)
from backend.app.queries import markdowns_of_forecast, workflow_status


def _holds_foreign_data(engine: Engine) -> str | None:
    """Why the database must not be wiped without --replace: data that no demo wrote."""
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        tables = [table for table in Base.metadata.sorted_tables if table.name in present]
        if not tables:
            return None
        if "workflow_logs" in present:
            demo_runs = connection.scalar(
                select(func.count())
                .select_from(WorkflowLog)
                .where(WorkflowLog.workflow_id.startswith(DEMO_WORKFLOW_PREFIX))
            )
            if demo_runs:
                return None
        for table in tables:
            rows = connection.scalar(select(func.count()).select_from(table))
            if rows:
                return f"{table.name} has {rows} row(s) that `ffdb demo` did not write"
    return None


def _fresh_database(url: URL) -> None:
    """A database at head through the migration chain (never ``create_all``).

    SQLite: the file (and its WAL) is deleted first. PostgreSQL: ``ffdb reset``'s
    teardown (downgrade to base, drop what is left), then upgrade to head.
    """
    if url.get_backend_name() != "sqlite":
        migrate.reset(url)
        return
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", *SQLITE_COMPANION_SUFFIXES):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    migrate.upgrade(url, "head")


def _row_counts(engine: Engine) -> Table:
    table = Table(title="Rows per table", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    with engine.connect() as connection:
        for model_table in sorted(Base.metadata.sorted_tables, key=lambda t: t.name):
            rows = connection.scalar(select(func.count()).select_from(model_table))
            table.add_row(model_table.name, f"{rows:,}")
    return table


def _curve_against_actuals(session: Session, forecast_id: str) -> Table:
    forecast = session.get(Forecast, forecast_id)
    assert forecast is not None
    category = session.get(Category, forecast.category_id)
    name = category.category_name if category else forecast.category_id
    actual_by_week: dict[int, int] = {
        int(week): int(units)
        for week, units in session.execute(
            select(ActualSales.week_number, func.sum(ActualSales.units_sold))
            .where(ActualSales.forecast_id == forecast_id)
            .group_by(ActualSales.week_number)
        )
    }
    table = Table(
        title=f"{name} ({forecast_id}): forecast against actuals",
        title_justify="left",
        caption=f"season demand {forecast.total_season_demand:,} units, peak week "
        f"{forecast.peak_week}",
        caption_justify="left",
    )
    for column in ("week", "forecast", "actual", "variance", "variance %"):
        table.add_column(column, justify="right")
    for point in sorted(forecast.weekly_demand_curve, key=lambda p: int(p["week_number"])):
        week, planned = int(point["week_number"]), int(point["demand_units"])
        actual = actual_by_week.get(week)
        if actual is None:
            table.add_row(str(week), f"{planned:,}", "", "", "")
            continue
        variance = int(actual) - planned
        style = "red" if variance < 0 else "green"
        table.add_row(
            str(week),
            f"{planned:,}",
            f"{int(actual):,}",
            f"[{style}]{variance:+,}[/]",
            f"[{style}]{variance / planned:+.1%}[/]" if planned else "",
        )
    return table


def _markdown_decisions(session: Session, summary: DemoSummary) -> Table:
    table = Table(
        title=f"Markdown decisions at week {summary.checkpoint_week}", title_justify="left"
    )
    for column in ("category", "sell-through", "target", "gap", "markdown", "status"):
        table.add_column(column, justify="left" if column in ("category", "status") else "right")
    reasons = []
    for category_id, markdown_id in summary.markdown_ids.items():
        # The agents' read of a forecast's markdowns and their trails, not a copy of it.
        (markdown,) = (
            found
            for found in markdowns_of_forecast(session, summary.forecast_ids[category_id])
            if found.markdown_id == markdown_id
        )
        category = session.get(Category, category_id)
        assert category is not None
        table.add_row(
            category.category_name,
            f"{markdown.sell_through_pct:.1%}",
            f"{markdown.target_sell_through_pct:.0%}",
            f"{markdown.gap_pct:+.1%}",
            f"[bold]{markdown.recommended_markdown_pct:.1%}[/]",
            str(markdown.status),
        )
        moves = "; ".join(
            f"{move.from_status} -> {move.to_status} by {move.actor} at "
            f"{move.changed_at:%Y-%m-%d %H:%M:%S} UTC"
            for move in markdown.trail
        )
        reasons.append(f"{category.category_name}: {markdown.reasoning} ({moves or 'undecided'})")
    table.caption = "\n".join(reasons)
    table.caption_justify = "left"
    return table


def _charts(engine: Engine, url: URL, summary: DemoSummary, charts: Path | None) -> None:
    """One chart per category: in ``charts``, else beside the SQLite file (on PostgreSQL
    only when a folder is given)."""
    from backend.app.demo.charts import write_demo_charts

    path = sqlite_file(url)
    if charts is None and path is None:
        console.print("Charts: give --charts DIR to draw one per category.")
        return
    folder = charts if charts is not None else path.parent if path is not None else Path()
    prefix = path.stem if path is not None else "demo"
    with error_console.status("Drawing the charts"):
        paths = write_demo_charts(engine, summary, folder, prefix)
    console.print("Forecast against actuals, one chart per category:")
    for chart in paths:
        console.print(f"  {chart}", markup=False, highlight=False)


@app.command()
def demo(
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same database.")] = 42,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Wipe a database that holds data `ffdb demo` did not write."
        ),
    ] = False,
    charts: Annotated[
        Path | None,
        typer.Option(
            "--charts",
            metavar="DIR",
            help="Where to draw one forecast-against-actuals chart per category "
            "[default: beside the SQLite file; on PostgreSQL none unless given].",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Build a fresh database at head filled with a sample season, then report on it.

    3 store clusters, 50 stores, 3 categories, 3 years of weekly history, a 12-week
    forecast per category with its cluster split, allocations, 6 weeks of actuals,
    markdown decisions approved by a planner, and per category the orchestrator's run
    with its steps: every table.

    Example: ffdb demo --seed 7 && ffdb stats
    """
    url = normalize_url(database_url)
    if url.get_backend_name() == "sqlite" and sqlite_file(url) is None:
        raise CommandError(
            f"{redacted(url)} is an in-memory database that would vanish when ffdb exits: "
            "give a file, e.g. sqlite:///./fashion_forecast.db"
        )
    path = sqlite_file(url)
    refusal = not_our_database(path) if path is not None else None
    if refusal is not None:
        # Not even --replace deletes a file that is not a database of ours.
        raise CommandError(f"{refusal}: not replacing it; choose another --database-url")
    probe = make_engine(url)
    try:
        foreign = None if replace else _holds_foreign_data(probe)
    finally:
        probe.dispose()
    if foreign:
        raise CommandError(
            f"{redacted(url)}: {foreign}; pass --replace to wipe it, or choose another "
            "--database-url"
        )

    with error_console.status(f"Creating a fresh database at head: {redacted(url)}"):
        _fresh_database(url)
    engine = make_engine(url)
    try:
        progress = Progress(
            TextColumn("{task.description:<48}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=error_console,
            transient=True,
        )
        with progress:
            task = progress.add_task("Generating the sample season", total=None)

            def advance(done: int, total: int, what: str) -> None:
                progress.update(task, completed=done, total=total, description=what)

            summary = generate_sample_season(engine, seed, progress=advance)

        console.print(
            f"Sample season [bold]{summary.season}[/] (seed {seed}) written to "
            f"[bold]{redacted(url)}[/]",
            highlight=False,
        )
        console.print(_row_counts(engine))
        with Session(engine) as session:
            for forecast_id in summary.forecast_ids.values():
                console.print(_curve_against_actuals(session, forecast_id))
            console.print(_markdown_decisions(session, summary))
            for workflow_id in summary.workflow_ids.values():
                console.print(workflow_table(workflow_status(session, workflow_id)))
        _charts(engine, url, summary, charts)
        stats = "ffdb stats" + (
            "" if str(url) == DEFAULT_DATABASE_URL else f" --database-url '{redacted(url)}'"
        )
        if url.get_backend_name() == "sqlite":
            console.print(
                f"The database stays for you: [bold]sqlite3 {url.database}[/] or [bold]{stats}[/]",
                highlight=False,
            )
        else:
            console.print(f"The database stays for you: [bold]{stats}[/]", highlight=False)
    finally:
        engine.dispose()
