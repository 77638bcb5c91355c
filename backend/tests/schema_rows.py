"""One valid row per table and helpers to insert rows past the ORM's own checks.

The schema tests need rows that the database itself judges: enum values the ORM would
refuse before they reach SQL are bound as plain strings here, so the database's CHECK
is what answers. Everything else is bound with the column's own type (dates, JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, ForeignKeyConstraint, Table

from backend.app.database.db import make_engine
from backend.app.models import metadata
from backend.tests.conftest import PostgresDatabases, migrate

METADATA = metadata

# The performance indexes the story names.
STORY_INDEXES = {
    "idx_historical_sales_store_category",
    "idx_historical_sales_date",
    "idx_actual_sales_forecast_week",
    "idx_workflow_logs_workflow",
}

VALID_ROWS: dict[str, dict[str, Any]] = {
    "categories": {
        "category_id": "CAT1",
        "category_name": "Women's Dresses",
        "season_start_date": date(2025, 3, 1),
        "season_end_date": date(2025, 5, 23),
        "season_length_weeks": 12,
        "archetype": "FASHION_RETAIL",
    },
    "store_clusters": {
        "cluster_id": "CL1",
        "cluster_name": "Fashion_Forward",
        "fashion_tier": "PREMIUM",
    },
    "stores": {
        "store_id": "S01",
        "store_name": "Store 1",
        "cluster_id": "CL1",
        "store_size_sqft": 5000,
        "location_tier": "A",
        "median_income": 50000,
        "store_format": "MALL",
        "region": "WEST",
        "avg_weekly_sales_12mo": 1000.0,
    },
    "season_parameters": {
        "parameter_id": "P1",
        "category_id": "CAT1",
        "forecast_horizon_weeks": 12,
        "season_start_date": date(2025, 3, 1),
        "season_end_date": date(2025, 5, 23),
        "replenishment_strategy": "weekly",
        "dc_holdback_percentage": 0.45,
        "markdown_checkpoint_week": 6,
        "markdown_threshold": 0.6,
    },
    "forecasts": {
        "forecast_id": "F1",
        "category_id": "CAT1",
        "season": "Spring 2025",
        "forecast_horizon_weeks": 12,
        "total_season_demand": 8000,
        "weekly_demand_curve": [{"week_number": 1, "demand_units": 500}],
        "peak_week": 3,
        "models_used": ["prophet", "arima"],
    },
    "forecast_cluster_distribution": {
        "distribution_id": "D1",
        "forecast_id": "F1",
        "cluster_id": "CL1",
        "allocation_percentage": 0.5,
        "total_units": 4000,
    },
    "allocations": {
        "allocation_id": "A1",
        "forecast_id": "F1",
        "manufacturing_qty": 9600,
        "initial_allocation_total": 5280,
        "holdback_total": 4320,
        "store_allocations": [{"store_id": "S01", "initial": 176, "holdback": 142}],
    },
    "markdowns": {
        "markdown_id": "M1",
        "forecast_id": "F1",
        "week_number": 6,
        "sell_through_pct": 0.5,
        "gap_pct": 0.1,
        "recommended_markdown_pct": 0.2,
    },
    "historical_sales": {
        "sale_id": "H1",
        "store_id": "S01",
        "category_id": "CAT1",
        "week_start_date": date(2024, 3, 4),
        "units_sold": 10,
    },
    "actual_sales": {
        "actual_id": "AS1",
        "store_id": "S01",
        "forecast_id": "F1",
        "week_number": 1,
        "units_sold": 12,
    },
    "store_extra_attributes": {
        "store_id": "S01",
        "attributes": {"foot_traffic": 2800, "mall_location": True},
        "source_file": "store_attributes.csv",
    },
    "workflow_logs": {
        "log_id": "L1",
        "workflow_id": "W1",
        "agent_name": "demand",
        "action": "forecast",
        "status": "completed",
    },
}


def table(name: str) -> Table:
    return METADATA.tables[name]


def foreign_keys() -> list[ForeignKeyConstraint]:
    """Every foreign key the models declare, in a stable order."""
    keys = [
        constraint
        for t in METADATA.sorted_tables
        for constraint in t.constraints
        if isinstance(constraint, ForeignKeyConstraint)
    ]
    return sorted(keys, key=lambda fk: str(fk.name))


def fk_columns(fk: ForeignKeyConstraint) -> tuple[str, str, str, str]:
    """(child table, child column, parent table, parent column) of a one-column key."""
    assert len(fk.elements) == 1, "the schema has one-column foreign keys only"
    element = fk.elements[0]
    return (
        fk.parent.name if fk.parent is not None else "",
        element.parent.name,
        element.column.table.name,
        element.column.name,
    )


def ancestors(name: str) -> list[str]:
    """The tables a valid row of ``name`` needs first, parents before children."""
    needed: set[str] = set()

    def visit(current: str) -> None:
        for fk in table(current).foreign_keys:
            parent = fk.column.table.name
            if parent not in needed:
                needed.add(parent)
                visit(parent)

    visit(name)
    return [t.name for t in METADATA.sorted_tables if t.name in needed]


def _bind(column: sa.Column[Any], value: Any) -> Any:
    # Enum types would refuse an unknown string in Python; the database must judge it.
    column_type: Any = sa.String() if isinstance(column.type, sa.Enum) else column.type
    return sa.literal(value, type_=column_type)


def insert_row(connection: Connection, name: str, values: dict[str, Any]) -> None:
    """Insert ``values`` into table ``name`` with enum values bound as plain strings."""
    target = table(name)
    connection.execute(
        sa.insert(target).values({key: _bind(target.c[key], v) for key, v in values.items()})
    )


def row(name: str, **overrides: Any) -> dict[str, Any]:
    return {**VALID_ROWS[name], **overrides}


def seed(connection: Connection, *names: str) -> None:
    """Insert the valid row of each table in ``names`` and of every table they need."""
    wanted = set(names)
    for name in names:
        wanted.update(ancestors(name))
    for t in METADATA.sorted_tables:
        if t.name in wanted:
            insert_row(connection, t.name, VALID_ROWS[t.name])


def primary_key(name: str) -> str:
    (column,) = table(name).primary_key.columns
    return column.name


def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """Body of a module-scoped fixture: a database at head on ``request.param``'s backend.

    For table-driven cases that each work inside a transaction they roll back.
    """
    databases: PostgresDatabases | None = None
    if request.param == "sqlite":
        url: Any = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'head.db'}"
    else:
        databases = request.getfixturevalue("postgres_databases")
        url = databases.create()
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if databases is not None:
        databases.drop(engine.url)
