"""``ffdb upgrade`` backs a SQLite database up first, ``ffdb restore`` brings it back, and
no command ever prints or logs a password."""

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
import sys
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine, normalize_url, redacted
from backend.app.maintenance.backup import read_backup
from backend.app.maintenance.schema_version import alembic_config, head_revision
from backend.tests.support.backends import chain
from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import populate_at_first_revision, small_season
from backend.tests.support.snapshot import assert_kept, snapshot
from backend.tests.support.sql import execute_sql, query_rows

REPO = Path(__file__).resolve().parents[2]
BACKED_UP = re.compile(r"^Backed up (?P<url>\S+) to (?P<path>.+)$", re.MULTILINE)


def _backup_path(stdout: str) -> Path:
    found = BACKED_UP.search(stdout)
    assert found, f"no backup reported in: {stdout!r}"
    return Path(found["path"])


def _sqlite_url(path: Path) -> URL:
    return normalize_url(f"sqlite:///{path}")


OLDER_REVISIONS = chain()[:-1]


@pytest.mark.parametrize("revision", OLDER_REVISIONS)
def test_upgrade_backs_up_first_and_restore_brings_the_old_revision_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], revision: str
) -> None:
    url = _sqlite_url(tmp_path / "fashion_forecast.db")
    populate_at_first_revision(url)
    command.upgrade(alembic_config(url), revision)
    before = snapshot(url)

    upgraded = run_ffdb(capsys, "upgrade", "--database-url", url)

    assert upgraded.exit_code == 0, upgraded.output
    saved = _backup_path(upgraded.stdout)
    assert saved.parent == tmp_path
    assert saved.name.startswith(f"fashion_forecast.db.backup-{revision}-")
    assert read_backup(saved) == revision
    assert f"is at {head_revision()} (head)" in upgraded.stdout
    assert_kept(before, snapshot(url), "after ffdb upgrade")

    restored = run_ffdb(capsys, "restore", str(saved), "--database-url", url)

    assert restored.exit_code == 0, restored.output
    assert f"(revision {revision})" in restored.stdout
    assert "run `ffdb upgrade`" in restored.stdout
    assert snapshot(url) == before
    previous = re.search(r"What it held before is saved in (.+)$", restored.stdout, re.M)
    assert previous and read_backup(Path(previous[1])) == head_revision()


def test_upgrade_backs_up_an_existing_file_without_our_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "notes.db"
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('keep me')")
        connection.commit()

    result = run_ffdb(capsys, "upgrade", "--database-url", _sqlite_url(database))

    assert result.exit_code == 0, result.output
    saved = _backup_path(result.stdout)
    assert saved.name.startswith("notes.db.backup-unmigrated-")
    with closing(sqlite3.connect(saved)) as connection:
        assert connection.execute("SELECT body FROM notes").fetchall() == [("keep me",)]


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_upgrade_writes_no_backup_when_there_is_nothing_to_change(
    migrated_url: URL, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_ffdb(capsys, "upgrade", "--database-url", migrated_url)
    assert result.exit_code == 0, result.output
    assert "Backed up" not in result.stdout
    assert not list(tmp_path.glob("*.backup-*"))

    new_file = tmp_path / "new.db"
    result = run_ffdb(capsys, "upgrade", "--database-url", _sqlite_url(new_file))
    assert result.exit_code == 0, result.output
    assert "Backed up" not in result.stdout  # nothing existed to keep


def test_upgrade_without_backup_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "skip.db"
    sqlite3.connect(database).close()
    result = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", _sqlite_url(database))
    assert result.exit_code == 0, result.output
    assert "Backed up" not in result.stdout
    assert not list(tmp_path.glob("*.backup-*"))


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_ffdb_backup_then_restore_round_trip(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    before = snapshot(migrated_url)

    made = run_ffdb(capsys, "backup", "--database-url", migrated_url)
    assert made.exit_code == 0, made.output
    saved = _backup_path(made.stdout)
    assert redacted(migrated_url) in made.stdout

    execute_sql(migrated_url, "DELETE FROM workflow_logs", "UPDATE stores SET store_name = 'x'")
    assert snapshot(migrated_url) != before

    restored = run_ffdb(capsys, "restore", str(saved), "--database-url", migrated_url)
    assert restored.exit_code == 0, restored.output
    assert "run `ffdb upgrade`" not in restored.stdout  # the backup was at head
    assert snapshot(migrated_url) == before
    doctor = run_ffdb(capsys, "doctor", "--database-url", migrated_url)
    assert doctor.exit_code == 0, doctor.output


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_restore_refusals_are_one_line_and_change_nothing(
    migrated_url: URL, engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    small_season().write(migrated_url)
    saved = _backup_path(run_ffdb(capsys, "backup", "--database-url", migrated_url).stdout)
    execute_sql(migrated_url, "DELETE FROM workflow_logs")
    before = query_rows(migrated_url, "SELECT count(*) FROM workflow_logs")

    with engine.connect():  # an agent is working on it
        busy = run_ffdb(capsys, "restore", str(saved), "--database-url", migrated_url)
    assert busy.exit_code == 1
    assert busy.stderr.startswith("error: ") and busy.stderr.count("\n") == 1
    assert "in use by another connection" in busy.stderr

    text_file = tmp_path / "sales.csv"
    text_file.write_text("store_id,units\nS1,3\n")
    foreign = run_ffdb(capsys, "restore", str(text_file), "--database-url", migrated_url)
    assert foreign.exit_code == 1
    assert f"error: {text_file} is not a SQLite database" in foreign.stderr

    assert query_rows(migrated_url, "SELECT count(*) FROM workflow_logs") == before


def test_backup_of_a_postgresql_url_is_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_ffdb(capsys, "backup", "--database-url", "postgresql://u:pw-in-url@localhost/db")
    assert result.exit_code == 1
    assert "pg_dump" in result.stderr
    assert "pw-in-url" not in result.output


# --- nothing sensitive leaks --------------------------------------------------------------

PASSWORD = "Tr0ub4dor-s3cret"


def _with_secret(url: URL, where: str) -> URL:
    if where == "user-info":
        return url.set(password=PASSWORD)
    return url.update_query_dict({where: PASSWORD})


@pytest.mark.postgresql
@pytest.mark.parametrize("backend_name", ["postgresql"], indirect=True)
@pytest.mark.parametrize("where", ["user-info", "password", "sslpassword"])
def test_no_command_prints_or_logs_the_password(
    migrated_url: URL,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    # The test server trusts local connections, so the password is carried but unused.
    url = _with_secret(migrated_url, where)
    small_season().write(migrated_url)
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (
        ["upgrade"],
        ["current"],
        ["history"],
        ["check"],
        ["doctor"],
        ["doctor", "--json"],
        ["stats"],
        ["export", "stores", "-o", str(tmp_path / "stores.csv")],
        ["variance", "NO-SUCH-FORECAST", "--week", "1"],
        ["demo"],
        ["transfer", "--to", url],
        ["backup"],
        ["restore", "/nonexistent.db"],
        ["downgrade", "no-such-revision"],
        ["downgrade", "base"],
    ):
        result = run_ffdb(capsys, *args, "--database-url", url)
        outputs.append(result.output)
    unreachable = url.set(host="127.0.0.1", port=1)
    outputs.append(run_ffdb(capsys, "current", "--database-url", unreachable).output)
    # The same URL from the environment, and malformed ones that no parser accepts.
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    outputs.append(run_ffdb(capsys, "stats").output)
    for broken in (
        f"postgresql+psycopg://u:{PASSWORD}@host:notaport/db",
        f"postgresql+psycopg://u@host/db?{where}={PASSWORD}&port=x",
        f"not a url at all, password={PASSWORD}",
    ):
        monkeypatch.setenv("DATABASE_URL", broken)
        outputs.append(run_ffdb(capsys, "stats").output)

    everything = "\n".join(outputs) + "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in everything
    assert "***" in everything  # the URL is shown, masked
    assert "no such revision" in everything or "unknown revision" in everything


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://agent:{PASSWORD}@db.example:5432/forecasts",
        f"postgresql://agent@db.example:5432/forecasts?password={PASSWORD}",
        f"postgresql://agent@db.example/forecasts?sslmode=require&sslpassword={PASSWORD}",
        f"postgresql://agent@db.example/forecasts?PASSWORD={PASSWORD}",
    ],
)
def test_urls_and_engines_never_render_the_password(url: str) -> None:
    assert PASSWORD not in redacted(url)
    assert "***" in redacted(url)
    engine = make_engine(url)
    try:
        assert PASSWORD not in repr(engine)
        assert PASSWORD not in str(engine.url)
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_a_failed_connection_error_does_not_carry_the_password(postgres_admin: Engine) -> None:
    url = postgres_admin.url.set(password=PASSWORD, port=1)
    engine = make_engine(url, connect_args={"connect_timeout": 2})
    try:
        with pytest.raises(Exception) as raised, engine.connect():
            pass
    finally:
        engine.dispose()
    rendered = f"{raised.value}\n{raised.value!r}\n{getattr(raised.value, 'orig', '')}"
    assert PASSWORD not in rendered


def test_sql_built_by_formatting_stays_forbidden() -> None:
    """ruff's S608 is selected, not switched off for the application code, and clean."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "S" in config["select"] or "S608" in config["select"]
    assert not {"S", "S6", "S60", "S608"} & set(config.get("ignore", []))
    for pattern, ignored in config.get("per-file-ignores", {}).items():
        if {"S", "S6", "S60", "S608"} & set(ignored):
            assert pattern.startswith(("backend/tests/", "bench/")), pattern
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--select", "S608", "backend/app", "backend/migrations"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
