"""Every string key holds 1 to 128 characters, on both backends the same way (issue 12, 11).

The bound is a named CHECK per key column (models/keys.py, migration 0004). An upgrade
over rows that break it stops with the table, column and row, and changes nothing;
downgrade removes the checks. The importers refuse a longer id as a FILE:LINE problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import CheckConstraint, String, insert, inspect, pool
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from backend.app.database.db import make_engine
from backend.app.maintenance import definitions
from backend.app.maintenance.schema_version import alembic_config
from backend.app.models import KEY_MAX_LENGTH, WorkflowLog, metadata
from backend.app.models.enums import WorkflowStatus
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import write_file
from backend.tests.support.samples import small_season
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import query_rows

BOUND = 128  # written out: the tests check the models' constant, not the other way round
KEY_MIGRATION = "0004"


def _log(log_id: str) -> dict[str, object]:
    return {
        "log_id": log_id,
        "workflow_id": "wf",
        "agent_name": "demand",
        "action": "forecast",
        "status": WorkflowStatus.COMPLETED,
    }


def _insert_log(url: URL, log_id: str) -> None:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(insert(WorkflowLog), [_log(log_id)])
    finally:
        engine.dispose()


def test_the_models_bound_every_string_key_column() -> None:
    assert KEY_MAX_LENGTH == definitions.KEY_MAX_LENGTH == BOUND
    expected = {
        f"ck_{table.name}_{column.name}_length"
        for table in metadata.tables.values()
        for column in table.columns
        if (column.primary_key or column.foreign_keys) and isinstance(column.type, String)
    }
    declared = {
        str(check.name)
        for table in metadata.tables.values()
        for check in table.constraints
        if isinstance(check, CheckConstraint)
        and str(check.name).endswith("_length")
        and "season_length" not in str(check.name)
    }
    assert expected <= declared  # other string columns may be bounded too (workflows.season)
    assert "ck_stores_store_id_length" in expected
    assert "ck_historical_sales_category_id_length" in expected


@pytest.mark.parametrize(
    ("length", "accepted"),
    [(0, False), (1, True), (BOUND, True), (BOUND + 1, False), (10_000, False)],
)
def test_both_backends_bound_a_key_the_same_way(
    migrated_url: URL, length: int, accepted: bool
) -> None:
    key = "k" * length
    if accepted:
        _insert_log(migrated_url, key)
        assert query_rows(migrated_url, "SELECT length(log_id) FROM workflow_logs") == [(length,)]
    else:
        with pytest.raises(IntegrityError, match="ck_workflow_logs_log_id_length"):
            _insert_log(migrated_url, key)


def test_the_upgrade_refuses_rows_that_break_the_bound_naming_them(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    command.upgrade(alembic_config(empty_database_url), "0002")
    long_id = "L" * 300
    _insert_log(empty_database_url, long_id)
    _insert_log(empty_database_url, "fine")
    before = snapshot(empty_database_url)

    result = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", empty_database_url)

    assert result.exit_code == 1, result.output
    assert "workflow_logs.log_id must hold 1 to 128 characters" in result.stderr
    assert f"log_id={long_id[:40]!r} (300 characters)" in result.stderr
    assert "Traceback" not in result.stderr
    assert query_rows(empty_database_url, "SELECT version_num FROM alembic_version") == [("0002",)]
    assert snapshot(empty_database_url) == before

    # Following the advice: shorten the row, upgrade again.
    engine = make_engine(empty_database_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                WorkflowLog.__table__.update()
                .where(WorkflowLog.log_id == long_id)
                .values(log_id="short")
            )
    finally:
        engine.dispose()
    again = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", empty_database_url)
    assert again.exit_code == 0, again.output
    assert run_ffdb(capsys, "check", "--database-url", empty_database_url).exit_code == 0


def test_downgrade_removes_the_checks_and_upgrade_puts_them_back(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    before = snapshot(migrated_url)

    command.downgrade(alembic_config(migrated_url), "0003")

    engine = make_engine(migrated_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            names = {
                check["name"]
                for table in inspect(connection).get_table_names()
                for check in inspect(connection).get_check_constraints(table)
            }
    finally:
        engine.dispose()
    assert "ck_stores_store_id_length" not in names
    assert "ck_workflow_logs_log_id_length" not in names
    assert "ck_workflows_workflow_id_length" in names  # 0003's own, kept
    _insert_log(migrated_url, "x" * (BOUND + 1))  # no bound at 0003
    assert (BOUND + 1,) in query_rows(migrated_url, "SELECT length(log_id) FROM workflow_logs")
    # Remove the long row again, then the upgrade re-adds every check and keeps the data.
    engine = make_engine(migrated_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                WorkflowLog.__table__.delete().where(WorkflowLog.log_id.like("xxx%"))
            )
    finally:
        engine.dispose()
    command.upgrade(alembic_config(migrated_url), "head")
    assert snapshot(migrated_url) == before
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0


def test_imports_refuse_a_longer_id_as_a_problem_line(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_id = "S" * (BOUND + 1)
    file = write_file(
        tmp_path / "stores.csv",
        "store_id,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,"
        "fashion_tier,store_format,region\n"
        f"{long_id},1,1,1,A,PREMIUM,MALL,NORTHEAST\n",
    )

    result = run_ffdb(capsys, "import", "stores", file, "--database-url", migrated_url)

    assert result.exit_code == 1, result.output
    assert f"{file}:2: store_id: {BOUND + 1} characters, an id has at most {BOUND}" in result.stderr
    assert query_rows(migrated_url, "SELECT count(*) FROM stores") == [(0,)]
