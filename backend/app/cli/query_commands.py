"""``ffdb variance`` and ``ffdb sell-through``: a forecast's reads, as a table or JSON."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from backend.app.cli.app import app
from backend.app.cli.common import (
    CommandError,
    DatabaseUrl,
    console,
    error_console,
    open_engine,
)
from backend.app.database.db import DEFAULT_DATABASE_URL, read_only
from backend.app.models.markdown import DEFAULT_TARGET_SELL_THROUGH
from backend.app.queries import ReadError, forecast_variance, sell_through_to_date
from backend.app.schemas.read_models import CommandOutput, VarianceReport


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


ForecastId = Annotated[str, typer.Argument(help="The forecast to measure.")]
Week = Annotated[int, typer.Option("--week", help="Through this season week (1..horizon).")]
Format = Annotated[
    OutputFormat,
    typer.Option("--format", help="table for people, json (one object) for programs."),
]
Output = TypeVar("Output", bound=CommandOutput)


def read_command(
    database_url: str, read: Callable[[Session], Output], output_format: str
) -> Output:
    """Run ``read`` on a read-only session; a ``ReadError`` is the command's one-line error.
    Prints the result as one JSON object when asked to (the caller prints tables)."""
    with open_engine(database_url) as engine, Session(read_only(engine)) as session:
        try:
            result = read(session)
        except ReadError as error:
            raise CommandError(str(error)) from None
    if output_format == OutputFormat.JSON:
        typer.echo(json.dumps(result.to_json_object()))
    return result


@app.command("variance")
def variance_command(
    forecast_id: ForecastId,
    week: Week,
    output_format: Format = OutputFormat.TABLE,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE",
            help="Also draw the chart (forecast curve, actual units, cumulative variance, "
            "markdown checkpoint) to FILE: .png or .svg.",
        ),
    ] = None,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Forecast against actual units per week, cumulative, and sell-through per store."""
    if plot is not None:
        _check_chart_path(plot)
    report = read_command(
        database_url, lambda session: forecast_variance(session, forecast_id, week), output_format
    )
    if plot is not None:
        _plot(database_url, report, plot)
    if output_format is OutputFormat.JSON:
        return
    console.print(_weeks_table(report))
    if report.stores:
        console.print(_stores_table(report))


def _check_chart_path(path: Path) -> None:
    from backend.app.charts.variance import ChartError, chart_format

    try:
        chart_format(path)
    except ChartError as error:
        raise CommandError(str(error)) from None


def _plot(database_url: str, report: VarianceReport, path: Path) -> None:
    """Draw the variance chart of the report just read, not reading it again (matplotlib
    loads only here), and say where it went."""
    from backend.app.charts.variance import plot_forecast_variance

    with open_engine(database_url) as engine, Session(read_only(engine)) as session:
        plot_forecast_variance(session, report.forecast_id, report.week, path, report=report)
    error_console.print(f"chart written to {path}", markup=False, highlight=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _units(value: int | None, sign: str = "") -> str:
    """Units, or ``-`` when there are none to show: missing is not zero."""
    return "-" if value is None else f"{value:{sign},}"


def _weeks_table(report: VarianceReport) -> Table:
    table = Table(
        title=f"Forecast {report.forecast_id}: variance through week {report.week}",
        caption="-: no actual sales loaded. Stores: reported/allocated; partial: some "
        "allocated stores have no row. Cumulative covers the weeks with actuals only.",
    )
    table.add_column("Week", justify="right", no_wrap=True)
    for header in ("Forecast units", "Actual units", "Variance units", "Variance %"):
        table.add_column(header, justify="right")
    table.add_column("Stores", justify="right", no_wrap=True)
    allocated = "" if report.stores_allocated is None else f"/{report.stores_allocated}"
    for week in report.weeks:
        reported = "-" if week.actual_units is None else f"{week.stores_reported}{allocated}"
        table.add_row(
            str(week.week_number),
            f"{week.forecast_units:,}",
            _units(week.actual_units),
            _units(week.variance_units, "+"),
            _pct(week.variance_pct),
            reported + (" (partial)" if week.partial else ""),
            end_section=week is report.weeks[-1],
        )
    total = report.cumulative
    partial = f" ({total.weeks_partial} partial)" if total.weeks_partial else ""
    table.add_row(
        "Cumulative",
        f"{total.forecast_units:,}",
        f"{total.actual_units:,}",
        f"{total.variance_units:+,}",
        _pct(total.variance_pct),
        f"{total.weeks_reported} weeks{partial}",
        style="bold",
    )
    return table


def _stores_table(report: VarianceReport) -> Table:
    allocation = report.allocation_id or "none"
    table = Table(title=f"Stores through week {report.week} (allocation {allocation})")
    table.add_column("Store")
    for header in ("Units sold", "Units shipped", "Sell-through"):
        table.add_column(header, justify="right")
    for store in report.stores:
        sell_through = "-" if store.sell_through_pct is None else f"{store.sell_through_pct:.1%}"
        table.add_row(
            store.store_id, f"{store.units_sold:,}", _units(store.units_shipped), sell_through
        )
    return table


@app.command("sell-through")
def sell_through_command(
    forecast_id: ForecastId,
    week: Week,
    target: Annotated[
        float,
        typer.Option("--target", min=0.0, max=1.0, help="Target sell-through, 0..1."),
    ] = DEFAULT_TARGET_SELL_THROUGH,
    output_format: Format = OutputFormat.TABLE,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Units sold in weeks 1..N / units shipped to the stores, against a target."""
    measured = read_command(
        database_url,
        lambda session: sell_through_to_date(session, forecast_id, week, target),
        output_format,
    )
    if output_format is OutputFormat.JSON:
        return
    table = Table(
        title=f"Forecast {forecast_id}: sell-through through week {week} "
        f"(allocation {measured.allocation_id})"
    )
    for header in ("Units sold", "Units shipped", "Sell-through", "Target", "Gap"):
        table.add_column(header, justify="right")
    sell = measured.sell_through_pct
    table.add_row(
        f"{measured.units_sold:,}",
        f"{measured.units_shipped:,}",
        "-" if sell is None else f"{sell:.1%}",
        f"{measured.target_sell_through_pct:.1%}",
        _pct(measured.gap_pct),
    )
    console.print(table)
