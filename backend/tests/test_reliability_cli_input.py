"""A malformed DATABASE_URL and unknown keys get one line naming what is wrong (issue 12:
items 9 and 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import small_season

SECRET = "Zq9-never-shown"
MALFORMED = [
    "::not a url",
    f"postgresql+psycopg://agent:{SECRET}@db.example:notaport/forecasts",
    f"nosuchdriver://agent:{SECRET}@db.example/forecasts",
    f"postgresql+nodriver://agent@db.example/forecasts?password={SECRET}",
]


@pytest.mark.parametrize("malformed", MALFORMED)
def test_version_and_help_work_whatever_database_url_holds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, malformed: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", malformed)
    for args in (["--version"], ["--help"], ["stats", "--help"]):
        result = run_ffdb(capsys, *args)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output and SECRET not in result.output


@pytest.mark.parametrize("malformed", MALFORMED)
def test_a_malformed_database_url_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, malformed: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", malformed)

    result = run_ffdb(capsys, "stats")

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: DATABASE_URL is not a usable database URL (")
    assert SECRET not in result.stderr


def test_a_malformed_database_url_option_is_named_as_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_ffdb(capsys, "check", "--database-url", MALFORMED[1])

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --database-url is not a usable database URL (")
    assert SECRET not in result.output


@pytest.mark.parametrize("malformed", MALFORMED)
def test_the_database_url_option_wins_over_a_malformed_variable(
    migrated_url: URL,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    malformed: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", malformed)

    result = run_ffdb(capsys, "current", "--database-url", migrated_url)

    assert result.exit_code == 0, result.output
    assert "(head)" in result.stdout


def test_export_of_an_unknown_forecast_fails_and_writes_nothing(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    out = tmp_path / "out"
    out.mkdir()

    to_file = run_ffdb(
        capsys,
        "export",
        "actual_sales",
        "--forecast-id",
        "NOPE",
        "-o",
        out / "a.csv",
        "--database-url",
        migrated_url,
    )
    to_stdout = run_ffdb(
        capsys, "export", "actual_sales", "--forecast-id", "NOPE", "--database-url", migrated_url
    )

    for result in (to_file, to_stdout):
        assert result.exit_code == 1, result.output
        assert "forecast 'NOPE' does not exist" in result.stderr
    assert to_stdout.stdout == ""
    assert list(out.iterdir()) == []
    known = run_ffdb(
        capsys, "export", "actual_sales", "--forecast-id", "F1", "--database-url", migrated_url
    )
    assert known.exit_code == 0, known.output
    assert known.stdout.startswith("store_id,week_number,units_sold\n")
    assert known.stdout.count("\n") > 1
