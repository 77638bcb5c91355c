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
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app import queries
from backend.app.database.db import make_engine
from backend.tests.conftest import copy_database

DEMO_FORECAST = "FC-CAT-WD-SS25"
DEMO_CATEGORY = "CAT-WD"
FILLER_CATEGORIES = 12  # x 50 stores x 156 weeks = 93,600 historical_sales rows
FILLER_FORECASTS = 100  # x 50 stores x 12 weeks = 60,000 actual_sales rows
BIG_TABLES = ("actual_sales", "historical_sales")
CURVE = "[" + ", ".join(f'{{"week_number": {w}, "demand_units": 10}}' for w in range(1, 13)) + "]"


def add_filler(engine: Engine) -> None:
    """Rows of other categories and forecasts, generated in the database, then ANALYZE."""
    json_value = "CAST(:{} AS JSONB)" if engine.dialect.name == "postgresql" else ":{}"
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
    with engine.begin() as connection:
        connection.execute(
            text(
                numbers + "INSERT INTO categories (category_id, category_name, "
                "season_start_date, season_end_date, season_length_weeks) "
                "SELECT 'FILL_C' || i, 'Filler', '2025-02-17', '2025-05-11', 12 FROM n"
            ),
            {"count": FILLER_CATEGORIES},
        )
        connection.execute(
            text(
                "INSERT INTO historical_sales (sale_id, store_id, category_id, "
                "week_start_date, units_sold) "
                "SELECT 'FILL_H_' || c.category_id || '_' || s.store_id || '_' || "
                "d.week_start_date, s.store_id, c.category_id, d.week_start_date, 7 "
                "FROM categories c CROSS JOIN stores s CROSS JOIN "
                "(SELECT DISTINCT week_start_date FROM historical_sales "
                " WHERE category_id = :category) d "
                "WHERE c.category_id LIKE 'FILL_C%' AND s.store_id LIKE 'S%'"
            ),
            {"category": DEMO_CATEGORY},
        )
        connection.execute(
            text(
                numbers + "INSERT INTO forecasts (forecast_id, category_id, season, "
                "forecast_horizon_weeks, total_season_demand, weekly_demand_curve, peak_week, "
                "models_used) SELECT 'FILL_F' || i, 'FILL_C1', 'Filler', 12, 120, "
                f"{json_value.format('curve')}, 1, {json_value.format('models')} FROM n"
            ),
            {"count": FILLER_FORECASTS, "curve": CURVE, "models": '["prophet"]'},
        )
        connection.execute(
            text(
                "WITH RECURSIVE w(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM w WHERE i < 12) "
                "INSERT INTO actual_sales (actual_id, store_id, forecast_id, week_number, "
                "units_sold) SELECT 'FILL_A_' || f.forecast_id || '_' || s.store_id || '_' "
                "|| w.i, s.store_id, f.forecast_id, w.i, 5 "
                "FROM forecasts f CROSS JOIN stores s CROSS JOIN w "
                "WHERE f.forecast_id LIKE 'FILL_F%' AND s.store_id LIKE 'S%'"
            )
        )
        connection.exec_driver_sql("ANALYZE")


class FilledDatabases(dict[str, Engine]):
    """One filled copy of the reads database per backend, shared by this module's tests."""

    def __init__(self) -> None:
        super().__init__()
        self.cleanups: list[Callable[[], None]] = []


@pytest.fixture(scope="module")
def _filled() -> Iterator[FilledDatabases]:
    filled = FilledDatabases()
    yield filled
    for cleanup in filled.cleanups:
        cleanup()


@pytest.fixture
def planned_engine(
    backend_name: str,
    reads_url: URL,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    _filled: FilledDatabases,
) -> Engine:
    """An engine on the reads database plus filler rows, analyzed (built once per backend)."""
    if backend_name not in _filled:
        url, drop = copy_database(reads_url, tmp_path_factory.mktemp("planned"), request)
        _filled.cleanups.append(drop)
        engine = make_engine(url)
        _filled.cleanups.insert(0, engine.dispose)
        add_filler(engine)
        _filled[backend_name] = engine
    return _filled[backend_name]


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
