"""A populated database at the first revision of the chain, and how to compare its data.

Rows are written with the schema of the first revision (reflected, not the models, which
describe head), so they can be carried through every later revision and compared.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from alembic import command
from sqlalchemy import Connection, MetaData, pool, select
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance.schema_version import alembic_config, script_directory

# Rows for every table of the first revision: the story's schema. Values exercise what a
# migration could mangle: unicode, NULLs, nested JSON, big integers, dates, floats.
FIRST_REVISION_ROWS: dict[str, list[dict[str, Any]]] = {
    "categories": [
        {
            "category_id": "CAT-1",
            "category_name": "Women's Dresses \u2013 \u00e9t\u00e9",
            "season_start_date": date(2026, 3, 2),
            "season_end_date": date(2026, 5, 25),
            "season_length_weeks": 12,
            "archetype": "FASHION_RETAIL",
            "description": None,
        }
    ],
    "store_clusters": [
        {"cluster_id": "CL-1", "cluster_name": "Premium", "fashion_tier": "PREMIUM"},
        {"cluster_id": "CL-2", "cluster_name": "Value", "fashion_tier": "VALUE"},
    ],
    "stores": [
        {
            "store_id": f"S{number:02d}",
            "store_name": f"Store {number} \U0001f6cd",
            "cluster_id": "CL-1" if number % 2 else "CL-2",
            "store_size_sqft": 4000 + number,
            "location_tier": "A",
            "median_income": 55000 + number,
            "store_format": "MALL",
            "region": "WEST",
            "avg_weekly_sales_12mo": 1234.5 + number,
        }
        for number in range(1, 4)
    ],
    "season_parameters": [
        {
            "parameter_id": "P-1",
            "category_id": "CAT-1",
            "forecast_horizon_weeks": 12,
            "season_start_date": date(2026, 3, 2),
            "season_end_date": date(2026, 5, 25),
            "replenishment_strategy": "bi-weekly",
            "dc_holdback_percentage": 0.45,
            "markdown_checkpoint_week": 6,
            "markdown_threshold": None,
            "extraction_confidence": "high",
            "extraction_reasoning": "from the planner's brief",
        }
    ],
    "forecasts": [
        {
            "forecast_id": "F-1",
            "category_id": "CAT-1",
            "season": "Spring 2026",
            "forecast_horizon_weeks": 12,
            "total_season_demand": 8000,
            "weekly_demand_curve": [
                {"week_number": week, "demand_units": 500 + week} for week in range(1, 13)
            ],
            "peak_week": 4,
            "forecasting_method": "ensemble_prophet_arima",
            "models_used": ["prophet", "arima"],
            "prophet_forecast": 8100,
            "arima_forecast": None,
        }
    ],
    "forecast_cluster_distribution": [
        {
            "distribution_id": "D-1",
            "forecast_id": "F-1",
            "cluster_id": "CL-1",
            "allocation_percentage": 0.6,
            "total_units": 4800,
        }
    ],
    "allocations": [
        {
            "allocation_id": "A-1",
            "forecast_id": "F-1",
            "manufacturing_qty": 9600,
            "safety_stock_percentage": 0.2,
            "initial_allocation_total": 4400,
            "holdback_total": 3600,
            "store_allocations": [
                {"store_id": "S01", "initial": 176, "holdback": 142},
                {"store_id": "S02", "initial": 0, "holdback": 0},
            ],
        }
    ],
    "markdowns": [
        {
            "markdown_id": "M-1",
            "forecast_id": "F-1",
            "week_number": 6,
            "sell_through_pct": 0.41,
            "target_sell_through_pct": 0.6,
            "gap_pct": 0.19,
            "recommended_markdown_pct": 0.095,
            "elasticity_coefficient": 2.0,
            "status": "pending",
        }
    ],
    "historical_sales": [
        {
            "sale_id": f"H-{week}",
            "store_id": "S01",
            "category_id": "CAT-1",
            "week_start_date": date(2025, 3, 3 + 7 * (week - 1)) if week < 5 else date(2025, 4, 7),
            "units_sold": week * 10,
        }
        for week in range(1, 6)
    ],
    "actual_sales": [
        {
            "actual_id": f"AS-{week}",
            "store_id": "S02",
            "forecast_id": "F-1",
            "week_number": week,
            "units_sold": week * 3,
        }
        for week in range(1, 4)
    ],
    "workflow_logs": [
        {
            "log_id": "L-1",
            "workflow_id": "wf-1",
            "agent_name": "demand",
            "action": "forecast",
            "input_data": {"nested": {"list": [1, 2.5, None, True, "\u2603"]}, "big": 2**62},
            "output_data": None,
            "duration_seconds": 1.25,
            "status": "completed",
            "error_message": None,
        },
        {
            "log_id": "L-2",
            "workflow_id": "wf-1",
            "agent_name": "inventory",
            "action": "allocate",
            "input_data": None,
            "output_data": {"errors": [], "note": 'line1\nline2 "quoted"'},
            "duration_seconds": None,
            "status": "failed",
            "error_message": "timeout",
        },
    ],
}

Snapshot = dict[str, list[dict[str, Any]]]


def chain() -> list[str]:
    """Every revision, oldest first."""
    return [script.revision for script in reversed(list(script_directory().walk_revisions()))]


def insert_first_revision_rows(connection: Connection) -> None:
    metadata = MetaData()
    metadata.reflect(connection)
    for table, rows in FIRST_REVISION_ROWS.items():  # parents before children
        connection.execute(metadata.tables[table].insert(), rows)


def snapshot(connection: Connection) -> Snapshot:
    """Every row of every table, ordered by primary key."""
    metadata = MetaData()
    metadata.reflect(connection)
    tables: Snapshot = {}
    for name, table in sorted(metadata.tables.items()):
        if name == "alembic_version":
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        rows = connection.execute(select(table).order_by(*order)).mappings()
        tables[name] = [dict(row) for row in rows]
    return tables


def assert_kept(before: Snapshot, after: Snapshot, where: str) -> None:
    """Every table, row and column value in ``before`` is still in ``after``."""
    for table, rows in before.items():
        assert table in after, f"{where}: table {table} is gone"
        columns = list(rows[0]) if rows else []
        kept = [{column: row.get(column) for column in columns} for row in after[table]]
        assert kept == rows, f"{where}: rows of {table} changed"


def populate_at_first_revision(url: URL) -> Snapshot:
    command.upgrade(alembic_config(url), chain()[0])
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            insert_first_revision_rows(connection)
        with engine.connect() as connection:
            return snapshot(connection)
    finally:
        engine.dispose()
