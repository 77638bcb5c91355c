"""``ffdb check``: exit 0 only at head, without drift, with the SQLite guard triggers."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import URL

from backend.app.maintenance.schema_version import head_revision
from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import small_season
from backend.tests.support.sql import execute_sql


def test_check_passes_on_a_populated_database_at_head(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: ")
    assert f"at head ({head_revision()})" in result.stdout


def test_check_fails_when_not_at_head(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url).exit_code == 0
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "database is not at head" in lines[0]
    assert "run `ffdb upgrade`" in lines[0]


def test_check_fails_on_a_never_migrated_database(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    execute_sql(empty_database_url, "CREATE TABLE unrelated (id INTEGER PRIMARY KEY)")
    result = run_ffdb(capsys, "check", "--database-url", empty_database_url)
    assert result.exit_code == 1
    assert "not at head (never migrated" in result.stderr


def test_check_fails_when_models_and_migrations_drift(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    """A column added behind the migrations' back is drift, named in the reason."""
    execute_sql(migrated_url, "ALTER TABLE stores ADD COLUMN manager_name VARCHAR")
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: models and migrations differ: "
        "column stores.manager_name exists only in the database"
    )


def test_check_fails_when_an_index_is_missing(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    execute_sql(migrated_url, "DROP INDEX idx_historical_sales_date")
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert (
        "index idx_historical_sales_date on historical_sales exists only in the models"
        in result.stderr
    )


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_check_fails_when_a_sqlite_guard_trigger_is_missing(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(str(migrated_url.database)) as raw:
        raw.execute("DROP TRIGGER ffdb_fk_stores_cluster_id_insert")
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert "guard trigger(s) missing, e.g. ffdb_fk_stores_cluster_id_insert" in result.stderr
    # Running upgrade again rebuilds the guards, even with no migration pending.
    assert run_ffdb(capsys, "upgrade", "--database-url", migrated_url).exit_code == 0
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0


def test_check_fails_when_a_check_constraint_is_missing(
    migrated_url: URL, backend_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """alembic's compare skips CHECK constraints; ffdb check compares them by name."""
    if backend_name == "postgresql":
        execute_sql(migrated_url, "ALTER TABLE stores DROP CONSTRAINT ck_stores_median_income")
    else:  # SQLite cannot drop a constraint: rebuild the table without it, as batch mode does
        execute_sql(
            migrated_url,
            "PRAGMA writable_schema=ON",
            "UPDATE sqlite_master SET sql = replace(sql, "
            "'CONSTRAINT ck_stores_median_income CHECK (median_income >= 0),', '') "
            "WHERE name = 'stores'",
        )
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: models and migrations differ: "
        "CHECK ck_stores_median_income on stores exists only in the models"
    )


@pytest.mark.parametrize("table", ["workflows", "markdown_status_changes"])
def test_check_covers_the_orchestrators_tables(
    migrated_url: URL, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    execute_sql(migrated_url, f"DROP TABLE {table}")
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert f"table {table} exists only in the models" in result.stderr


def test_check_covers_the_orchestrators_checks(
    migrated_url: URL, backend_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if backend_name == "postgresql":
        execute_sql(migrated_url, "ALTER TABLE workflows DROP CONSTRAINT ck_workflows_progress")
    else:
        execute_sql(
            migrated_url,
            "PRAGMA writable_schema=ON",
            "UPDATE sqlite_master SET sql = replace(sql, "
            "'CONSTRAINT ck_workflows_progress CHECK (progress >= 0 AND progress <= 1), ', '') "
            "WHERE name = 'workflows'",
        )
    result = run_ffdb(capsys, "check", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: models and migrations differ: "
        "CHECK ck_workflows_progress on workflows exists only in the models"
    )
