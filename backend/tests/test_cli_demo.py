"""``ffdb demo``: a fresh database at head through the migrations, filled and reported."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app import queries
from backend.app.database.base import Base
from backend.app.database.db import make_engine
from backend.app.domain import records
from backend.app.domain.violations import find_rule_violations
from backend.app.maintenance.schema_version import current_revision, head_revision
from backend.app.models import Forecast
from backend.app.models.enums import FashionTier
from backend.tests.support.backends import migrate
from backend.tests.support.cli import run_ffdb
from backend.tests.support.schema import EXTENSION_TABLES, STORY_TABLES


def _run(capsys: pytest.CaptureFixture[str], *args: str | URL) -> tuple[int, str, str]:
    """``ffdb ARGS``, its output as words: rich wraps to the terminal width."""
    result = run_ffdb(capsys, *args)
    return result.exit_code, " ".join(result.stdout.split()), " ".join(result.stderr.split())


def test_demo_builds_reports_and_can_run_again(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "demo", "--seed", "5", "--database-url", empty_database_url)
    assert code == 0, err
    assert "Rows per table" in out
    assert "historical_sales" in out and "23,400" in out
    assert "Women's Dresses (FC-CAT-WD-SS25): forecast against actuals" in out
    assert "Markdown decisions at week 6" in out
    # Each category's run: its trail, and the planner's approval on the markdown's.
    for category in ("CAT-WD", "CAT-MO", "CAT-AC"):
        assert (
            f"Workflow WF-SS25-DEMO-5-{category} ({category}, Spring 2025): completed, 100%" in out
        )
    assert "demand_agent.forecast_demand" in out and "orchestrator.resume_after_approval" in out
    assert "pending -> approved by planner@demo.example at 2025-03-31 " in out
    assert "The database stays for you" in out

    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            counts = {
                table.name: connection.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables
            }
            assert set(counts) == STORY_TABLES | EXTENSION_TABLES, counts
            assert all(counts.values()), counts
            assert find_rule_violations(connection) == []
        # The decisions shown are the agents' read of each forecast's markdowns.
        shown_markdowns = 0
        with Session(engine) as session:
            for forecast in session.scalars(select(Forecast).order_by(Forecast.forecast_id)):
                for markdown in queries.markdowns_of_forecast(session, forecast.forecast_id):
                    moves = "; ".join(
                        f"{move.from_status} -> {move.to_status} by {move.actor} at "
                        f"{move.changed_at:%Y-%m-%d %H:%M:%S} UTC"
                        for move in markdown.trail
                    )
                    name = forecast.category.category_name
                    shown = " ".join(
                        f"{name}: {markdown.reasoning} ({moves or 'undecided'})".split()
                    )
                    assert shown in out
                    assert markdown.status.value in out
                    shown_markdowns += 1
        assert shown_markdowns == 3  # one per category
    finally:
        engine.dispose()

    # A database that holds a demo is rebuilt without asking: same counts, no duplicates.
    code, out, err = _run(capsys, "demo", "--seed", "6", "--database-url", empty_database_url)
    assert code == 0, err
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            again = {
                table.name: connection.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()
    assert again == counts


def test_demo_refuses_to_wipe_data_it_did_not_write(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session:
            records.upsert_store_cluster(
                session, cluster_id="MINE", cluster_name="Mine", fashion_tier=FashionTier.VALUE
            )
            session.commit()
        code, _, err = _run(capsys, "demo", "--database-url", empty_database_url)
        assert code == 1
        assert "store_clusters has 1 row(s) that `ffdb demo` did not write" in err
        assert "pass --replace" in err
        with engine.connect() as connection:
            assert (
                connection.scalar(
                    select(func.count()).select_from(Base.metadata.tables["store_clusters"])
                )
                == 1
            )

        # Let go of the old file before the demo replaces it.
        engine.dispose()
        code, _, err = _run(capsys, "demo", "--replace", "--database-url", empty_database_url)
        assert code == 0, err
        with Session(engine) as session:
            from backend.app.models import StoreCluster

            assert session.get(StoreCluster, "MINE") is None
    finally:
        engine.dispose()


def test_demo_failure_is_an_error_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(
        capsys, "demo", "--database-url", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    )
    assert code == 1
    assert err.startswith("error: ")
    assert "secret" not in err
    assert "Traceback" not in err


def test_demo_refuses_an_in_memory_database(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "demo", "--database-url", "sqlite://")
    assert code == 1
    assert "in-memory database that would vanish" in err
