"""The ``ffdb`` entry point: version, help, and the one-line error boundary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from backend.app.cli import db_commands
from backend.app.cli.app import package_version
from backend.tests.support.backends import postgres_admin_url
from backend.tests.support.cli import run_ffdb

FFDB = Path(sys.executable).with_name("ffdb")
PASSWORD = "hunter2-Very-Secret"
COMMANDS = [
    "upgrade",
    "downgrade",
    "current",
    "history",
    "check",
    "doctor",
    "stats",
    "reset",
    "erd",
    "schema-doc",
]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ffdb {package_version()}"
    assert package_version()[0].isdigit()


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, command, "--help")
    assert result.exit_code == 0
    assert "Example: ffdb " in " ".join(result.stdout.split())
    if command not in ("erd", "schema-doc"):
        assert "--database-url" in result.stdout


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "upgrayedd")
    assert result.exit_code == 2
    assert "No such command 'upgrayedd'" in result.stderr


@pytest.mark.parametrize("backend_name", ["postgresql"], indirect=True)
def test_a_connection_error_is_one_line_without_the_password(
    backend_name: str, postgres_databases: object, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_admin_url().set(database="ffdb_no_such_database", password=PASSWORD)
    result = run_ffdb(capsys, "check", "--database-url", url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert 'database "ffdb_no_such_database" does not exist' in result.stderr
    assert PASSWORD not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("via", ["option", "environment"])
def test_the_password_is_scrubbed_from_any_error(
    via: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an error whose message carries the full URL is printed without the password."""
    url = f"postgresql+psycopg://me:{PASSWORD}@db.example.invalid/forecast"

    def leaky(_bind: object) -> str:
        raise RuntimeError(f"could not read the revision of {url}")

    monkeypatch.setattr(db_commands, "current_revision", leaky)
    if via == "option":
        result = run_ffdb(capsys, "current", "--database-url", url)
    else:
        monkeypatch.setenv("DATABASE_URL", url)
        result = run_ffdb(capsys, "current")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: RuntimeError: could not read the revision of "
        "postgresql+psycopg://me:***@db.example.invalid/forecast (--debug shows more)\n"
    )


def test_an_unparsable_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "current", "--database-url", "not a url")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: --database-url is not a usable database URL (Could not parse SQLAlchemy URL"
    )
    assert result.stderr.count("\n") == 1


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(FFDB), *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


def test_errors_have_no_traceback_unless_debug(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert _subprocess("upgrade", "--database-url", url, cwd=tmp_path).returncode == 0
    plain = _subprocess("downgrade", "nope", "--database-url", url, cwd=tmp_path)
    assert plain.returncode == 1
    assert plain.stderr == "error: unknown revision 'nope': see `ffdb history`\n"
    debug = _subprocess("--debug", "downgrade", "nope", "--database-url", url, cwd=tmp_path)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "UnknownRevision" in debug.stderr


def test_database_url_comes_from_the_environment(
    migrated_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated_url.render_as_string(hide_password=False))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    result = run_ffdb(capsys, "check")
    assert result.exit_code == 0, result.output
    assert migrated_url.render_as_string(hide_password=True) in result.stdout
    assert list(workdir.iterdir()) == []  # the default SQLite file was not created
