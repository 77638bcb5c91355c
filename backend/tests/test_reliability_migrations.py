"""Upgrades keep data, and a crash mid-migration leaves a database an upgrade completes.

Rows are written with the schema of the first revision (reflected, not the models, which
describe head) and compared after every step of the chain, whatever revisions it holds.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, MetaData, inspect, pool, select, text
from sqlalchemy.engine import URL

from backend.app.database import integrity
from backend.app.database.db import make_engine
from backend.app.database.schema_version import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    script_directory,
)
from backend.tests import reliability_workers as workers

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


def _engine(url: URL) -> Engine:
    return make_engine(url, poolclass=pool.NullPool)


def _revision_of(url: URL) -> str | None:
    engine = _engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _snapshot_of(url: URL) -> Snapshot:
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            return snapshot(connection)
    finally:
        engine.dispose()


def _sqlite_health(url: URL) -> tuple[list[str], list[Any], list[str]]:
    """integrity_check, foreign_key_check and the missing FK guard triggers."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            checks = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
            orphans = list(connection.exec_driver_sql("PRAGMA foreign_key_check"))
            return checks, orphans, integrity.missing_guards(connection)
    finally:
        engine.dispose()


def populate_at_first_revision(url: URL) -> Snapshot:
    command.upgrade(alembic_config(url), chain()[0])
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            insert_first_revision_rows(connection)
        with engine.connect() as connection:
            return snapshot(connection)
    finally:
        engine.dispose()


def test_every_upgrade_and_downgrade_step_keeps_the_data(empty_database_url: URL) -> None:
    revisions = chain()
    original = populate_at_first_revision(empty_database_url)
    assert sum(len(rows) for rows in original.values()) == sum(
        len(rows) for rows in FIRST_REVISION_ROWS.values()
    )
    config = alembic_config(empty_database_url)
    steps = 0
    for revision in revisions[1:]:
        command.upgrade(config, revision)
        steps += 1
        assert _revision_of(empty_database_url) == revision
        assert_kept(original, _snapshot_of(empty_database_url), f"upgrade to {revision}")
    # And back down to the first revision, step by step, then up to head again.
    for revision in reversed(revisions[:-1]):
        command.downgrade(config, revision)
        steps += 1
        assert _revision_of(empty_database_url) == revision
        assert_kept(original, _snapshot_of(empty_database_url), f"downgrade to {revision}")
    command.upgrade(config, "head")
    assert _revision_of(empty_database_url) == head_revision()
    assert_kept(original, _snapshot_of(empty_database_url), "upgrade to head again")
    if empty_database_url.get_backend_name() == "sqlite":
        assert _sqlite_health(empty_database_url) == (["ok"], [], [])
    print(f"{len(revisions)} revision(s), {steps} step(s) checked, data kept")


# --- crash mid-migration (SQLite: the embedded database a laptop loses power under) ---------

SLOW_REVISION = '''"""Test only: rebuilds a table, then waits to be killed, then finishes.

Revision ID: 9000_test_crash
Revises: {down}
"""

import os

import sqlalchemy as sa
from alembic import op

from backend.tests.reliability_workers import signal_and_wait

revision = "9000_test_crash"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", recreate="always") as batch:
        batch.add_column(sa.Column("crash_test_note", sa.String(), nullable=True))
    op.execute("UPDATE stores SET crash_test_note = 'rebuilt ' || store_id")
    op.execute("DELETE FROM workflow_logs WHERE status = 'failed'")
    marker = os.environ.get("FFDB_TEST_MIGRATION_MARKER")
    if marker:  # set by the test for the run it kills, unset for the run that completes
        signal_and_wait(marker, 600)
    op.create_table("crash_test_after", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("crash_test_after")
    with op.batch_alter_table("stores", recreate="always") as batch:
        batch.drop_column("crash_test_note")
'''


@pytest.fixture
def slow_chain(tmp_path: Path) -> Iterator[Path]:
    """A copy of our migrations with a test-only revision on top that stops mid-way."""
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "9000_test_crash.py").write_text(
        SLOW_REVISION.format(down=head_revision())
    )
    yield location


def _wait_for(marker: Path, process: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert process.is_alive(), f"the migration ended (exit {process.exitcode}) before"
        assert time.monotonic() < deadline, "the migration never reached the kill point"
        time.sleep(0.02)


def _sqlite_url(tmp_path: Path, name: str) -> URL:
    return make_engine(f"sqlite:///{tmp_path / name}").url


@pytest.mark.slow
def test_a_migration_killed_mid_way_leaves_the_old_revision_and_its_data(
    tmp_path: Path, slow_chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _sqlite_url(tmp_path, "crash.db")
    populate_at_first_revision(url)
    command.upgrade(alembic_config(url), "head")
    before = _snapshot_of(url)
    marker = tmp_path / "mid-migration"
    monkeypatch.setenv("FFDB_TEST_MIGRATION_MARKER", str(marker))

    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=workers.run_upgrade,
        args=(url.render_as_string(hide_password=False), str(slow_chain), "head"),
    )
    child.start()
    try:
        _wait_for(marker, child)  # stores rebuilt, rows changed and deleted, not committed
    finally:
        child.kill()
        child.join(timeout=60)
    assert child.exitcode == -9

    assert _revision_of(url) == head_revision()
    engine = _engine(url)
    try:
        columns = {column["name"] for column in inspect(engine).get_columns("stores")}
    finally:
        engine.dispose()
    assert "crash_test_note" not in columns
    assert _snapshot_of(url) == before
    assert _sqlite_health(url) == (["ok"], [], [])

    # Running the upgrade again completes it, on top of the intact data.
    monkeypatch.delenv("FFDB_TEST_MIGRATION_MARKER")
    workers.run_upgrade(url.render_as_string(hide_password=False), str(slow_chain), "head")
    assert _revision_of(url) == "9000_test_crash"
    after = _snapshot_of(url)
    notes = {row["store_id"]: row["crash_test_note"] for row in after["stores"]}
    assert notes == {f"S{n:02d}": f"rebuilt S{n:02d}" for n in range(1, 4)}
    expected = dict(before)
    expected["workflow_logs"] = [r for r in before["workflow_logs"] if r["status"] != "failed"]
    assert_kept(expected, after, "completed upgrade")
    assert after["crash_test_after"] == []
    assert _sqlite_health(url) == (["ok"], [], [])


KILL_DELAYS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5]


@pytest.mark.slow
def test_a_migration_killed_at_any_moment_is_completed_by_upgrade(tmp_path: Path) -> None:
    """Kill ``upgrade head`` from an empty database after various delays; then upgrade."""
    context = multiprocessing.get_context("spawn")
    head_tables: set[str] | None = None
    outcomes: list[str] = []
    for number, delay in enumerate(KILL_DELAYS):
        url = _sqlite_url(tmp_path, f"killed-{number}.db")
        ready = context.Event()
        child = context.Process(
            target=workers.run_upgrade_when_told,
            args=(url.render_as_string(hide_password=False), ready),
        )
        child.start()
        try:
            assert ready.wait(timeout=300), "the child never got ready"
            time.sleep(delay)
            alive = child.is_alive()
        finally:
            child.kill()
            child.join(timeout=60)

        revision = _revision_of(url)
        engine = _engine(url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        # One transaction: nothing at all, or the complete head schema.
        if revision is None:
            assert tables <= {"alembic_version"}, f"half a schema after {delay}s: {tables}"
            outcomes.append(f"{delay}s: killed {'mid-run' if alive else 'late'}, nothing kept")
        else:
            assert revision == head_revision()
            outcomes.append(f"{delay}s: {'killed after commit' if alive else 'finished'}")

        command.upgrade(alembic_config(url), "head")
        assert _revision_of(url) == head_revision()
        assert _sqlite_health(url) == (["ok"], [], [])
        engine = _engine(url)
        try:
            completed = set(inspect(engine).get_table_names())
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM stores")).scalar() == 0
        finally:
            engine.dispose()
        head_tables = head_tables or completed
        assert completed == head_tables
    print("kill points:", "; ".join(outcomes))
    assert any("mid-run" in outcome for outcome in outcomes)
