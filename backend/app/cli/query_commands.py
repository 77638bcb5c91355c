"""``ffdb variance``: a forecast against actual sales through a week, as a table or JSON."""

from __future__ import annotations

import enum
import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from backend.app.cli.app import app
from backend.app.cli.common import CommandError, DatabaseUrl, console, open_engine
from backend.app.database.db import DEFAULT_DATABASE_URL, read_only
from backend.app.queries import ReadError, forecast_variance
from backend.app.schemas.read_models import VarianceReport


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command("variance")
def variance_command(
    forecast_id: Annotated[str, typer.Argument(help="The forecast to measure.")],
    week: Annotated[int, typer.Option("--week", help="Through this season week (1..horizon).")],
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="table for people, json (one object) for programs."),
    ] = OutputFormat.TABLE,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
) -> None:
    """Forecast against actual units per week, cumulative, and sell-through per store."""
    with open_engine(database_url) as engine, Session(read_only(engine)) as session:
        try:
            report = forecast_variance(session, forecast_id, week)
        except ReadError as error:
            raise CommandError(str(error)) from None
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(report.to_json_object()))
        return
    console.print(_weeks_table(report))
    if report.stores:
        console.print(_stores_table(report))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _weeks_table(report: VarianceReport) -> Table:
    table = Table(title=f"Forecast {report.forecast_id}: variance through week {report.week}")
    for header in ("Week", "Forecast units", "Actual units", "Variance units", "Variance %"):
        table.add_column(header, justify="right")
    for week in report.weeks:
        table.add_row(
            str(week.week_number),
            f"{week.forecast_units:,}",
            f"{week.actual_units:,}",
            f"{week.variance_units:+,}",
            _pct(week.variance_pct),
            end_section=week is report.weeks[-1],
        )
    total = report.cumulative
    table.add_row(
        "Cumulative",
        f"{total.forecast_units:,}",
        f"{total.actual_units:,}",
        f"{total.variance_units:+,}",
        _pct(total.variance_pct),
        style="bold",
    )
    return table


def _stores_table(report: VarianceReport) -> Table:
    allocation = report.allocation_id or "none"
    table = Table(
        title=f"Stores through week {report.week} (allocation {allocation}, initial units)"
    )
    table.add_column("Store")
    for header in ("Units sold", "Allocated units", "Sell-through"):
        table.add_column(header, justify="right")
    for store in report.stores:
        allocated = "-" if store.allocated_units is None else f"{store.allocated_units:,}"
        sell_through = "-" if store.sell_through_pct is None else f"{store.sell_through_pct:.1%}"
        table.add_row(store.store_id, f"{store.actual_units:,}", allocated, sell_through)
    return table
