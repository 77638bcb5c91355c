"""The variance and history reads use the indexes: no full scan of the big tables.

The test records the SQL a read actually sends, then asks the database for its plan
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` on PostgreSQL) with the same parameters.

PostgreSQL picks plans from statistics, and on a table as small as the demo season a
sequential scan is the right plan. So the database first gets filler rows of other
categories and forecasts, as a production database would hold (the read's rows become
a few percent of historical_sales and under 1% of actual_sales), then ANALYZE. That
tests the plan the planner chooses, not merely that an index is usable, which is what
``SET enable_seqscan = off`` would show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from backend.app import queries

DEMO_FORECAST = "FC-CAT-WD-SS25"
DEMO_CATEGORY = "CAT-WD"
BIG_TABLES = ("actual_sales", "historical_sales")


def sent_statements(engine: Engine, read: Callable[[Session], Any]) -> list[tuple[str, Any]]:
    """The SQL and parameters ``read`` sends, in order."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            read(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def plan_of(engine: Engine, statement: str, parameters: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


def full_scans(dialect: str, plan: str) -> list[str]:
    if dialect == "sqlite":
        # "SCAN t" without an index reads every row; "SCAN t USING INDEX" walks an index.
        return [
            line
            for line in plan.splitlines()
            if re.search(rf"\bSCAN ({'|'.join(BIG_TABLES)})\b", line) and "INDEX" not in line
        ]
    return [
        line
        for line in plan.splitlines()
        if re.search(r"Seq Scan on (actual|historical)_sales", line)
    ]


def assert_indexed(
    engine: Engine, read: Callable[[Session], Any], expected_tables: set[str]
) -> None:
    dialect = engine.dialect.name
    touched: set[str] = set()
    for statement, parameters in sent_statements(engine, read):
        tables = {table for table in BIG_TABLES if table in statement}
        if not tables:
            continue
        touched |= tables
        plan = plan_of(engine, statement, parameters)
        assert not full_scans(dialect, plan), f"full scan in plan:\n{plan}\nof:\n{statement}"
        for table in tables:
            # Positive evidence too: the plan reaches the table through an index.
            index_use = (
                rf"SEARCH {table} USING (COVERING )?INDEX"
                if dialect == "sqlite"
                else rf"(Index (Only )?Scan (Backward )?using \w+|Bitmap Heap Scan) on {table}\b"
            )
            assert re.search(index_use, plan), f"no index use on {table} in:\n{plan}"
    assert touched == expected_tables


@pytest.mark.parametrize("week", [1, 6, 12])
def test_variance_reads_actual_sales_through_an_index(planned_engine: Engine, week: int) -> None:
    assert_indexed(
        planned_engine,
        lambda session: queries.forecast_variance(session, DEMO_FORECAST, week),
        {"actual_sales"},
    )


def test_sell_through_reads_actual_sales_through_an_index(planned_engine: Engine) -> None:
    assert_indexed(
        planned_engine,
        lambda session: queries.sell_through_to_date(session, DEMO_FORECAST, 6),
        {"actual_sales"},
    )


@pytest.mark.parametrize(
    "scope",
    [{}, {"cluster_id": "CL-PREMIUM"}, {"store_id": "S007"}],
    ids=["all", "cluster", "store"],
)
def test_history_reads_through_an_index(planned_engine: Engine, scope: dict[str, str]) -> None:
    assert_indexed(
        planned_engine,
        lambda session: queries.weekly_history(session, DEMO_CATEGORY, **scope),
        {"historical_sales"},
    )
