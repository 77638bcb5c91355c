"""The one builder of sample rows: each table's valid row, changed where a test cares.

A row is a plain dict of column values, so the same row can be written through the
models' tables, through the reflected schema of an older revision, or handed to a
model's constructor. ``SampleRows`` collects rows and writes them parents first with
Core. Enum columns are bound as plain strings: a value the ORM would refuse in Python
reaches the database, and its CHECK answers. Every other column is bound with its own
type (dates, JSON, timestamps converted to UTC).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, MetaData, Table, pool
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.models import metadata as MODELS
from backend.tests.support.schema import ancestors

Row = dict[str, Any]

# One valid row per table: every NOT NULL column without a default, and a few others.
VALID_ROWS: dict[str, Row] = {
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
    "workflows": {
        "workflow_id": "W1",
        "category_id": "CAT1",
        "season": "Spring 2025",
        "parameter_id": "P1",
        "forecast_id": "F1",
        "allocation_id": "A1",
        "status": "running",
        "current_agent": "demand",
        "progress": 0.25,
    },
    "markdown_status_changes": {
        "change_id": "MC1",
        "markdown_id": "M1",
        "from_status": "pending",
        "to_status": "approved",
        "actor": "planner@example.com",
        "changed_at": datetime(2025, 4, 7, 9, 30, tzinfo=UTC),
    },
    "workflow_logs": {
        "log_id": "L1",
        "workflow_id": "W1",
        "agent_name": "demand",
        "action": "forecast",
        "status": "completed",
    },
}


def valid_row(table: str, **values: Any) -> Row:
    """The valid row of ``table`` with ``values`` over it (a new dict each time)."""
    return {**VALID_ROWS[table], **values}


class SampleRows:
    """Rows to write, table by table, each kept in the order it was added."""

    def __init__(self) -> None:
        self.tables: dict[str, list[Row]] = {}

    def add(self, table: str, **values: Any) -> Row:
        """Add the valid row of ``table`` with ``values`` over it; returns the row."""
        row = valid_row(table, **values)
        self.tables.setdefault(table, []).append(row)
        return row

    def add_valid(self, *tables: str) -> SampleRows:
        """The valid row of each of ``tables`` and of every table those rows need."""
        wanted = set(tables)
        for name in tables:
            wanted.update(ancestors(name))
        for table in MODELS.sorted_tables:
            if table.name in wanted:
                self.add(table.name)
        return self

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def write(self, bind: Engine | Connection | URL, metadata: MetaData = MODELS) -> None:
        """Insert every row, parents before children, through ``metadata``'s tables.

        Given a URL or an engine, in one transaction it commits; given a connection, in
        the connection's own transaction (the caller commits or rolls back).
        """
        if isinstance(bind, URL):
            engine = make_engine(bind, poolclass=pool.NullPool)
            try:
                self.write(engine, metadata)
            finally:
                engine.dispose()
            return
        if isinstance(bind, Engine):
            with bind.begin() as connection:
                self.write(connection, metadata)
            return
        unknown = set(self.tables) - set(metadata.tables)
        assert not unknown, f"no such table(s) in this schema: {sorted(unknown)}"
        for table in metadata.sorted_tables:
            insert_rows(bind, table, self.tables.get(table.name, []))


def insert_row(
    connection: Connection, table: str, values: Row, metadata: MetaData = MODELS
) -> None:
    """Insert one row into ``table`` as given: enum values bound as plain strings."""
    insert_rows(connection, metadata.tables[table], [values])


def insert_rows(connection: Connection, table: Table, rows: Iterable[Row]) -> None:
    """Insert ``rows`` in order, one executemany per run of rows with the same columns."""
    batch: list[Row] = []
    for row in rows:
        if batch and row.keys() != batch[0].keys():
            _insert(connection, table, batch)
            batch = []
        batch.append(row)
    if batch:
        _insert(connection, table, batch)


def _insert(connection: Connection, table: Table, rows: list[Row]) -> None:
    # Parameters may not be named as columns in VALUES: "p_" + the column's name.
    columns = list(rows[0])
    statement = sa.insert(table).values(
        {name: sa.bindparam(f"p_{name}", type_=_bind_type(table.c[name])) for name in columns}
    )
    parameters = [{f"p_{name}": _plain(row[name]) for name in columns} for row in rows]
    connection.execute(statement, parameters)


def _bind_type(column: sa.Column[Any]) -> Any:
    # An Enum type refuses an unknown string in Python; the database must judge it.
    return sa.String() if isinstance(column.type, sa.Enum) else column.type


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
