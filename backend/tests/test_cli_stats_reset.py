"""``ffdb stats`` and ``ffdb reset`` on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance.schema_version import current_revision, head_revision
from backend.app.maintenance.stats import database_size, sqlite_files, table_names
from backend.tests.support.cli import has_row, run_ffdb, table_rows
from backend.tests.support.samples import small_season
from backend.tests.support.sql import execute_sql, query_rows

PASSWORD = "s3cr3t-Pa55"


def _count(url: URL, table: str) -> int:
    return int(str(query_rows(url, f"SELECT count(*) FROM {table}")[0][0]))


def test_stats_shows_rows_of_every_table(
    migrated_url: URL, backend_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    result = run_ffdb(capsys, "stats", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The story's eleven tables and the three extensions (README, The schema).
    assert "Rows per table (14 tables)" in out
    assert len(table_names()) == 14
    expected = {
        "stores": 4,
        "store_clusters": 2,
        "historical_sales": 12,
        "actual_sales": 8,
        "forecast_cluster_distribution": 2,
        # small_season has no runs or decisions: their tables are listed with 0.
        "workflows": 0,
        "markdown_status_changes": 0,
    }
    for table in table_names():
        assert has_row(out, table, str(expected.get(table, 1))), table
    assert has_row(out, "total", str(sum(expected.values()) + 7))
    assert has_row(out, "backend", backend_name)
    assert has_row(out, "revision", f"{head_revision()} (head)")
    size = next(row[1] for row in table_rows(out) if row[0] == "size")
    assert size.endswith("KiB") or size.endswith("MiB")


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_stats_size_counts_the_sqlite_wal(migrated_url: URL) -> None:
    engine = make_engine(migrated_url)
    try:
        small_season().write(engine)  # committed pages wait in the WAL until a checkpoint
        files = sqlite_files(migrated_url)
        assert [f.name for f in files] == ["test.db", "test.db-wal"]
        with engine.connect() as connection:
            assert database_size(connection) == sum(f.stat().st_size for f in files)
    finally:
        engine.dispose()


def test_stats_never_prints_the_password(
    migrated_url: URL, backend_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = migrated_url.set(username=migrated_url.username or "user", password=PASSWORD)
    result = run_ffdb(capsys, "stats", "--database-url", url)
    assert PASSWORD not in result.output
    assert "***" in result.output
    if backend_name == "postgresql":
        # The test server trusts local users, so any password is accepted.
        assert result.exit_code == 0, result.output
        assert has_row(result.stdout, "url", url.render_as_string(hide_password=True))
    else:
        # SQLite has no passwords: the URL is refused, and the error is redacted too.
        assert result.exit_code == 1
        assert result.stderr.startswith("error: Invalid SQLite URL: sqlite://user:***@")


def test_stats_refuses_an_out_of_date_database(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url)
    result = run_ffdb(capsys, "stats", "--database-url", migrated_url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "run `ffdb upgrade`" in result.stderr


def test_reset_refuses_without_yes_and_keeps_the_data(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    result = run_ffdb(capsys, "reset", "--database-url", migrated_url)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("add --yes to confirm")
    assert result.stderr.count("\n") == 1
    assert _count(migrated_url, "stores") == 4


def test_reset_drops_everything_and_migrates_to_head(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    execute_sql(  # things the migrations know nothing about
        migrated_url,
        "CREATE TABLE scratch (id INTEGER PRIMARY KEY)",
        "CREATE VIEW store_names AS SELECT store_name FROM stores",
    )
    result = run_ffdb(capsys, "reset", "--yes", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert f"empty schema at {head_revision()} (head)" in result.stdout
    engine = make_engine(migrated_url)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == {*table_names(), "alembic_version"}
        assert inspector.get_view_names() == []
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    for table in table_names():
        assert _count(migrated_url, table) == 0
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0


def test_reset_recovers_a_database_at_an_unknown_revision(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database stamped by a newer branch cannot be downgraded; reset still works."""
    execute_sql(migrated_url, "UPDATE alembic_version SET version_num = 'ffff_future'")
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 1
    result = run_ffdb(capsys, "reset", "--yes", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0


def test_reset_creates_a_schema_in_an_empty_database(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(capsys, "reset", "--yes", "--database-url", empty_database_url)
    assert result.exit_code == 0, result.output
    assert run_ffdb(capsys, "check", "--database-url", empty_database_url).exit_code == 0


def test_reset_drops_a_foreign_table_that_references_ours(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL refuses the migrations' DROP TABLE stores; reset still ends clean."""
    small_season().write(migrated_url)
    execute_sql(
        migrated_url,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, store_id VARCHAR REFERENCES stores)",
        "INSERT INTO notes VALUES (1, 'S1')",
    )
    result = run_ffdb(capsys, "reset", "--yes", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    engine = make_engine(migrated_url)
    try:
        assert "notes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert _count(migrated_url, "stores") == 0
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0
