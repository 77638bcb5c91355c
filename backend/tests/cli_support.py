"""Helpers for the ``ffdb`` tests: run the CLI in-process, fill every table with the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.cli.common import console, error_console
from backend.app.cli.main import main
from backend.app.database.db import make_engine
from backend.app.models import (
    ActualSales,
    Allocation,
    Category,
    Forecast,
    ForecastClusterDistribution,
    HistoricalSales,
    Markdown,
    SeasonParameters,
    Store,
    StoreCluster,
    StoreExtraAttributes,
    WorkflowLog,
)
from backend.app.models.enums import (
    FashionTier,
    LocationTier,
    Region,
    ReplenishmentStrategy,
    StoreFormat,
    WorkflowStatus,
)

WIDE = 250


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_ffdb(capsys: pytest.CaptureFixture[str], *args: str | URL) -> Result:
    """``ffdb ARGS`` through the real entry point (error boundary included)."""
    argv = [a.render_as_string(hide_password=False) if isinstance(a, URL) else a for a in args]
    capsys.readouterr()
    # As wide as a big terminal, so table cells are not folded under the assertions.
    widths = (console.width, error_console.width)
    console.width = error_console.width = WIDE
    try:
        main(argv)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        console.width, error_console.width = widths
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def execute_sql(url: URL, *statements: str) -> None:
    """Run statements in one transaction through our own engine (pragmas on)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def query_rows(url: URL, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def fill(url: URL) -> URL:
    """``populate`` the database at ``url``; returns the URL."""
    engine = make_engine(url)
    try:
        populate(engine)
    finally:
        engine.dispose()
    return url


def populate(engine: Engine) -> None:
    """A few consistent rows in each of the 11 tables."""
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                StoreCluster(
                    cluster_id="C1", cluster_name="Premium", fashion_tier=FashionTier.PREMIUM
                ),
                StoreCluster(cluster_id="C2", cluster_name="Value", fashion_tier=FashionTier.VALUE),
                Category(
                    category_id="CAT1",
                    category_name="Dresses",
                    season_start_date=date(2025, 3, 3),
                    season_end_date=date(2025, 5, 26),
                    season_length_weeks=12,
                ),
            ]
        )
        session.flush()
        session.add_all(
            [
                Store(
                    store_id=f"S{n}",
                    store_name=f"Store {n}",
                    cluster_id="C1" if n < 3 else "C2",
                    store_size_sqft=8000 + n,
                    location_tier=LocationTier.A,
                    median_income=60000,
                    store_format=StoreFormat.MALL,
                    region=Region.WEST,
                    avg_weekly_sales_12mo=1000.0,
                )
                for n in range(1, 5)
            ]
        )
        session.add(
            StoreExtraAttributes(
                store_id="S1",
                attributes={"foot_traffic": 2800, "mall_location": True},
                source_file="store_attributes.csv",
            )
        )
        session.add(
            SeasonParameters(
                parameter_id="P1",
                category_id="CAT1",
                forecast_horizon_weeks=12,
                season_start_date=date(2025, 3, 3),
                season_end_date=date(2025, 5, 26),
                replenishment_strategy=ReplenishmentStrategy.WEEKLY,
                dc_holdback_percentage=0.45,
                markdown_checkpoint_week=6,
                markdown_threshold=0.6,
            )
        )
        session.add(
            Forecast(
                forecast_id="F1",
                category_id="CAT1",
                season="Spring 2025",
                forecast_horizon_weeks=12,
                total_season_demand=1200,
                weekly_demand_curve=[{"week_number": w, "demand_units": 100} for w in range(1, 13)],
                peak_week=1,  # a flat curve peaks first in week 1 (rule forecast_peak_week)
                models_used=["prophet", "arima"],
            )
        )
        session.flush()
        session.add_all(
            [
                ForecastClusterDistribution(
                    distribution_id="D1",
                    forecast_id="F1",
                    cluster_id="C1",
                    allocation_percentage=0.6,
                    total_units=720,
                ),
                ForecastClusterDistribution(
                    distribution_id="D2",
                    forecast_id="F1",
                    cluster_id="C2",
                    allocation_percentage=0.4,
                    total_units=480,
                ),
                Allocation(
                    allocation_id="A1",
                    forecast_id="F1",
                    manufacturing_qty=1440,
                    initial_allocation_total=792,
                    holdback_total=648,
                    store_allocations=[
                        {"store_id": f"S{n}", "initial": 198, "holdback": 162} for n in range(1, 5)
                    ],
                ),
                # Sell-through through week 6: 120 units sold / 792 shipped to stores.
                Markdown(
                    markdown_id="M1",
                    forecast_id="F1",
                    week_number=6,
                    sell_through_pct=120 / 792,
                    gap_pct=0.6 - 120 / 792,
                    recommended_markdown_pct=0.2,
                ),
                WorkflowLog(
                    log_id="L1",
                    workflow_id="W1",
                    agent_name="demand",
                    action="forecast",
                    input_data={"category_id": "CAT1"},
                    output_data={"forecast_id": "F1"},
                    duration_seconds=1.5,
                    status=WorkflowStatus.COMPLETED,
                ),
            ]
        )
        session.add_all(
            HistoricalSales(
                sale_id=f"H{n}{w}",
                store_id=f"S{n}",
                category_id="CAT1",
                week_start_date=date(2024, 3, 4 + 7 * w),
                units_sold=20 + w,
            )
            for n in range(1, 5)
            for w in range(3)
        )
        session.add_all(
            ActualSales(
                actual_id=f"AS{n}{w}",
                store_id=f"S{n}",
                forecast_id="F1",
                week_number=w,
                units_sold=15,
            )
            for n in range(1, 5)
            for w in range(1, 3)
        )


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich tables in ``output``, as lists of stripped cells."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│") and line.endswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def has_row(output: str, *cells: str) -> bool:
    """Whether a table row starts with ``cells`` (a cell may be matched by its prefix)."""
    return any(
        len(row) >= len(cells) and all(r.startswith(c) for r, c in zip(row, cells, strict=False))
        for row in table_rows(output)
    )
