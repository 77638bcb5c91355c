"""Revision 0003 keeps every row on upgrade and on downgrade, on both backends, and a
downgrade that would misstate a planner's decision (a rejected markdown) changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance.schema_version import alembic_config, current_revision
from backend.tests.support.backends import migrate
from backend.tests.support.rows import SampleRows
from backend.tests.support.snapshot import Snapshot, assert_kept, snapshot

NEW_TABLES = {"workflows", "markdown_status_changes"}


def _rows_at_0002() -> SampleRows:
    """Every table of 0002, with a markdown in each of its three statuses."""
    rows = SampleRows().add_valid(
        "store_extra_attributes",
        "season_parameters",
        "forecast_cluster_distribution",
        "allocations",
        "actual_sales",
        "historical_sales",
        "workflow_logs",
    )
    for number, status in enumerate(("pending", "approved", "applied"), 1):
        rows.add("markdowns", markdown_id=f"M{number}", status=status)
    return rows


def _write(url: URL, rows: SampleRows) -> Snapshot:
    """Write ``rows`` through the database's own (reflected) tables; its snapshot."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        schema = MetaData()
        with engine.begin() as connection:
            schema.reflect(connection)
            rows.write(connection, schema)
        return snapshot(engine)
    finally:
        engine.dispose()


def _execute(url: URL, *statements: str) -> None:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _revision(url: URL) -> str | None:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_0003_keeps_the_data_up_and_down(empty_database_url: URL) -> None:
    url = empty_database_url
    migrate(url, "0002")
    at_0002 = _write(url, _rows_at_0002())
    config = alembic_config(url)

    command.upgrade(config, "0003")
    upgraded = snapshot(url)
    assert_kept(at_0002, upgraded, "upgrade to 0003")
    # Every existing forecast is an original covering the whole season.
    assert [(f["from_week"], f["revises_forecast_id"]) for f in upgraded["forecasts"]] == [
        (1, None)
    ]
    assert upgraded["workflows"] == [] and upgraded["markdown_status_changes"] == []

    # The new records: a run, a re-forecast, a decision on the trail, a rejection.
    new = SampleRows()
    new.add("forecasts", forecast_id="F1-R5", revises_forecast_id="F1", from_week=5, peak_week=5)
    new.add("workflows", status="running")
    new.add(
        "markdown_status_changes",
        change_id="MS:M2:approved",
        markdown_id="M2",
        from_status="pending",
        to_status="approved",
        actor="ana",
        changed_at=datetime(2025, 4, 7, 9, 30, tzinfo=UTC),
    )
    new.add("markdowns", markdown_id="M4", status="rejected")
    at_0003 = _write(url, new)

    with pytest.raises(Exception, match=r"1 markdown\(s\) are rejected \(M4\)"):
        command.downgrade(config, "0002")
    assert _revision(url) == "0003"
    assert snapshot(url) == at_0003

    _execute(url, "UPDATE markdowns SET status = 'pending' WHERE markdown_id = 'M4'")
    command.downgrade(config, "0002")
    downgraded = snapshot(url)
    assert not NEW_TABLES & set(downgraded)
    # The re-forecast's row and the no longer rejected markdown stay (the link columns
    # go with the revision); every row written at 0002 is as it was.
    assert sorted(f["forecast_id"] for f in downgraded["forecasts"]) == ["F1", "F1-R5"]
    assert [m["status"] for m in downgraded["markdowns"] if m["markdown_id"] == "M4"] == ["pending"]
    older = {
        table: [
            row
            for row in rows
            if row.get("forecast_id") != "F1-R5" and row.get("markdown_id") != "M4"
        ]
        for table, rows in downgraded.items()
    }
    assert_kept(at_0002, older, "downgrade to 0002")
    assert "from_week" not in downgraded["forecasts"][0]

    command.upgrade(config, "head")
    assert_kept(downgraded, snapshot(url), "upgrade to head again")
