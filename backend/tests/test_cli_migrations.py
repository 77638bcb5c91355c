"""``ffdb upgrade / downgrade / current / history`` on both backends, from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance.schema_version import current_revision, head_revision
from backend.tests.support.cli import run_ffdb
from backend.tests.support.schema import EXTENSION_TABLES, STORY_TABLES

FFDB = Path(sys.executable).with_name("ffdb")


def _tables(url: URL) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: URL) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_and_reports_head(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(capsys, "upgrade", "--database-url", empty_database_url)
    assert result.exit_code == 0, result.output
    assert f"{head_revision()} (head)" in result.stdout
    assert len(_tables(empty_database_url)) == len(STORY_TABLES | EXTENSION_TABLES)
    assert _revision(empty_database_url) == head_revision()


def test_upgrade_runs_from_any_directory(empty_database_url: URL, tmp_path: Path) -> None:
    """The migrations ship inside the package: no alembic.ini in the working directory."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    environment = {**os.environ, "DATABASE_URL": empty_database_url.render_as_string(False)}
    done = subprocess.run(
        [str(FFDB), "upgrade"], cwd=workdir, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _revision(empty_database_url) == head_revision()
    assert list(workdir.iterdir()) == []  # nothing written where it was run


def test_default_url_is_a_sqlite_file_in_the_working_directory(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [str(FFDB), "upgrade"], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fashion_forecast.db").is_file()
    assert "sqlite:///./fashion_forecast.db" in done.stdout


def test_downgrade_base_removes_every_table_and_upgrade_restores_them(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert "base (no schema)" in result.stdout
    assert _tables(migrated_url) == set()
    assert run_ffdb(capsys, "upgrade", "--database-url", migrated_url).exit_code == 0
    assert len(_tables(migrated_url)) == len(STORY_TABLES | EXTENSION_TABLES)


def test_downgrade_needs_a_revision(migrated_url: URL, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "downgrade", "--database-url", migrated_url)
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr
    assert len(_tables(migrated_url)) == len(STORY_TABLES | EXTENSION_TABLES)


def test_unknown_revision_is_one_line_and_changes_nothing(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("upgrade", "downgrade"):
        result = run_ffdb(capsys, command, "9999_nope", "--database-url", migrated_url)
        assert result.exit_code == 1
        assert result.stderr.strip() == "error: unknown revision '9999_nope': see `ffdb history`"
        assert "Traceback" not in result.output
    assert _revision(migrated_url) == head_revision()


def test_current_names_the_revision_and_whether_it_is_head(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(capsys, "current", "--database-url", migrated_url)
    assert (result.exit_code, result.stdout.strip()) == (0, f"{head_revision()} (head)")
    run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url)
    result = run_ffdb(capsys, "current", "--database-url", migrated_url)
    assert (result.exit_code, result.stdout.strip()) == (0, "base (no schema)")


def test_history_lists_the_chain_and_marks_head_and_current(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(capsys, "history", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert head_revision() in result.stdout
    assert "Initial schema" in result.stdout
    assert "head, current" in result.stdout


def test_history_without_a_database_still_lists_the_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.db"
    result = run_ffdb(capsys, "history", "--database-url", f"sqlite:///{missing}")
    assert result.exit_code == 0, result.output
    assert head_revision() in result.stdout
    assert "current" not in result.stdout.replace("Migrations", "")
    assert not missing.exists()


@pytest.mark.parametrize("command", ["current", "check", "doctor", "stats", "downgrade"])
def test_a_missing_sqlite_file_is_reported_not_created(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    args = [command, "base"] if command == "downgrade" else [command]
    result = run_ffdb(capsys, *args, "--database-url", f"sqlite:///{missing}")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: no database at {missing}: run `ffdb upgrade` to create it"
    )
    assert not missing.exists()
