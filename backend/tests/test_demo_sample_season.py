"""The sample season: deterministic, complete, realistic and consistent with the rules."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from backend.app import queries
from backend.app.database.base import Base
from backend.app.database.db import make_engine
from backend.app.demo.sample_season import (
    ACTUAL_WEEKS,
    CHECKPOINT_WEEK,
    HISTORY_WEEKS,
    NotEmptyError,
    apportion,
    generate_sample_season,
    recommended_markdown,
)
from backend.app.models import Allocation, Forecast, Markdown, Store
from backend.tests.support.backends import migrate
from backend.tests.support.schema import EXTENSION_TABLES, STORY_TABLES
from backend.tests.support.snapshot import snapshot


def _demo_database(path: Path, seed: int) -> Engine:
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    generate_sample_season(engine, seed)
    return engine


def test_same_seed_gives_the_same_database_and_another_seed_does_not(tmp_path: Path) -> None:
    first = _demo_database(tmp_path / "first.db", 7)
    second = _demo_database(tmp_path / "second.db", 7)
    other = _demo_database(tmp_path / "other.db", 8)
    try:
        first_rows = snapshot(first, without={"created_at"})
        assert first_rows == snapshot(second, without={"created_at"})
        other_rows = snapshot(other, without={"created_at"})
        assert other_rows != first_rows
        # Keys are stable across seeds; values are not.
        assert other_rows["historical_sales"] != first_rows["historical_sales"]
        assert [row["forecast_id"] for row in other_rows["forecasts"]] == [
            row["forecast_id"] for row in first_rows["forecasts"]
        ]
    finally:
        for engine in (first, second, other):
            engine.dispose()


def test_every_table_is_filled_as_the_summary_says(engine: Engine) -> None:
    summary = generate_sample_season(engine)
    with engine.connect() as connection:
        counts = {
            table.name: connection.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }
    assert set(counts) == STORY_TABLES | EXTENSION_TABLES
    assert all(rows for rows in counts.values()), counts
    assert counts == summary.row_counts
    assert counts["store_clusters"] == 3
    assert counts["stores"] == counts["store_extra_attributes"] == 50
    assert counts["categories"] == 3
    assert counts["historical_sales"] == 50 * 3 * HISTORY_WEEKS == 23_400
    assert counts["actual_sales"] == 50 * 3 * ACTUAL_WEEKS


def test_the_season_hangs_together(engine: Engine) -> None:
    summary = generate_sample_season(engine, seed=42)
    with engine.connect() as connection:
        # Premium stores sell more than mainstream, mainstream more than value.
        by_tier = dict(
            connection.execute(
                text(
                    "SELECT c.fashion_tier, AVG(s.avg_weekly_sales_12mo) FROM stores s "
                    "JOIN store_clusters c ON c.cluster_id = s.cluster_id GROUP BY c.fashion_tier"
                )
            ).all()
        )
        assert by_tier["PREMIUM"] > by_tier["MAINSTREAM"] > by_tier["VALUE"]
        weeks = connection.execute(
            text("SELECT MIN(week_start_date), MAX(week_start_date) FROM historical_sales")
        ).one()
        assert str(weeks[0]) == "2022-02-21"
        assert str(weeks[1]) == "2025-02-10"  # the week before the season starts
    with Session(engine) as session:
        forecasts = session.scalars(select(Forecast)).all()
        assert len(forecasts) == 3
        for forecast in forecasts:
            assert forecast.forecast_horizon_weeks == 12
        allocations = session.scalars(select(Allocation)).all()
        for allocation in allocations:
            assert len(allocation.store_allocations) == 50
            assert (
                allocation.initial_allocation_total + allocation.holdback_total
                == allocation.manufacturing_qty
            )
        markdowns = session.scalars(select(Markdown)).all()
        assert {markdown.week_number for markdown in markdowns} == {CHECKPOINT_WEEK}
        for markdown in markdowns:
            assert markdown.recommended_markdown_pct == recommended_markdown(markdown.gap_pct)
        # At least one category is behind its target and gets a markdown.
        assert any(markdown.recommended_markdown_pct > 0 for markdown in markdowns)
        assert session.scalar(select(func.count()).select_from(Store)) == len(summary.store_ids)


def test_the_demo_refuses_a_database_with_data(engine: Engine) -> None:
    generate_sample_season(engine)
    with pytest.raises(NotEmptyError, match=r"needs an empty database but \w+ has \d+ row"):
        generate_sample_season(engine)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (100, [0.5, 0.25, 0.25], [50, 25, 25]),
        (7, [3, 0, 1], [5, 0, 2]),
        (0, [1, 2], [0, 0]),
    ],
)
def test_apportion_sums_exactly(total: int, weights: list[float], expected: list[int]) -> None:
    assert apportion(total, weights) == expected
    assert sum(apportion(total, weights)) == total


def test_each_category_runs_through_a_workflow(engine: Engine) -> None:
    """Started, six steps in order, paused for the planner, approved, completed; its
    outputs are the season's parameters, forecast and allocation."""
    summary = generate_sample_season(engine)
    expected_steps = [
        ("orchestrator", "extract_season_parameters"),
        ("demand_agent", "forecast_demand"),
        ("inventory_agent", "allocate_inventory"),
        ("orchestrator", "record_actual_sales"),
        ("pricing_agent", "recommend_markdown"),
        ("orchestrator", "resume_after_approval"),
    ]
    with Session(engine) as session:
        assert sorted(summary.workflow_ids) == sorted(summary.category_ids)
        for category_id, workflow_id in summary.workflow_ids.items():
            run = queries.workflow_status(session, workflow_id)
            assert (run.status, run.progress, run.current_agent) == ("completed", 1.0, None)
            assert (run.parameter_id, run.forecast_id, run.allocation_id) == (
                summary.parameter_ids[category_id],
                summary.forecast_ids[category_id],
                summary.allocation_ids[category_id],
            )
            assert [(s.agent_name, s.action) for s in run.steps] == expected_steps
            assert all(s.duration_seconds and s.duration_seconds > 0 for s in run.steps)
            # Steps keep the run's clock: in order, the actuals at the checkpoint Monday.
            times = [s.created_at for s in run.steps]
            assert times == sorted(times)
            assert times[3] is not None and times[3].date() == date(2025, 3, 31)
            (markdown,) = queries.markdowns_of_forecast(session, summary.forecast_ids[category_id])
            assert markdown.markdown_id == summary.markdown_ids[category_id]
            assert markdown.status == "approved"
            assert [(t.from_status, t.to_status, t.actor) for t in markdown.trail] == [
                ("pending", "approved", "planner@demo.example")
            ]
            # Approved while the run waited, before it resumed.
            assert times[4] is not None and times[4] < markdown.trail[0].changed_at <= times[5]
