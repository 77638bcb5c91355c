"""``ffdb doctor``: silent on a sound database; names table and key of every damage."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from backend.app.domain import doctor
from backend.app.maintenance import health
from backend.app.schemas.problems import Problem
from backend.tests.support.cli import Result, has_row, run_ffdb, table_rows
from backend.tests.support.samples import small_season
from backend.tests.support.sql import execute_sql, query_rows

only_sqlite = pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
only_postgresql = pytest.mark.parametrize(
    "backend_name", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


@pytest.fixture
def populated_url(migrated_url: URL) -> Iterator[URL]:
    small_season().write(migrated_url)
    yield migrated_url


def _doctor(capsys: pytest.CaptureFixture[str], url: URL) -> Result:
    return run_ffdb(capsys, "doctor", "--database-url", url)


def _sqlite3_cli(url: URL, sql: str) -> subprocess.CompletedProcess[str]:
    """The plain ``sqlite3`` shell: a foreign client that never sets our pragmas."""
    return subprocess.run(
        ["sqlite3", str(url.database), sql], capture_output=True, text=True, check=False
    )


def test_doctor_and_check_pass_on_a_populated_database(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    assert {n for (n,) in query_rows(populated_url, "SELECT count(*) FROM stores")} == {4}
    result = _doctor(capsys, populated_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: no problems found")
    assert run_ffdb(capsys, "check", "--database-url", populated_url).exit_code == 0


def test_doctor_refuses_an_out_of_date_database(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url)
    result = _doctor(capsys, migrated_url)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "run `ffdb upgrade`" in result.stderr


@only_sqlite
def test_the_guards_refuse_the_issue_s_delete_from_the_sqlite3_shell(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    done = _sqlite3_cli(populated_url, "PRAGMA foreign_keys=OFF; DELETE FROM store_clusters;")
    assert done.returncode != 0
    assert "FOREIGN KEY constraint failed: stores.cluster_id -> store_clusters" in done.stderr
    assert query_rows(populated_url, "SELECT count(*) FROM store_clusters") == [(2,)]
    assert _doctor(capsys, populated_url).exit_code == 0


@only_sqlite
def test_doctor_names_orphans_left_once_the_guards_are_dropped(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    done = _sqlite3_cli(
        populated_url,
        "PRAGMA foreign_keys=OFF; "
        "DROP TRIGGER ffdb_fk_stores_cluster_id_parent_delete; "
        "DROP TRIGGER ffdb_fk_forecast_cluster_distribution_cluster_id_parent_delete; "
        "DELETE FROM store_clusters WHERE cluster_id = 'C2';",
    )
    assert done.returncode == 0, done.stderr
    result = _doctor(capsys, populated_url)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: ")
    assert "problem(s) found" in result.stderr
    out = result.stdout
    # SQLite's own foreign_key_check, by rowid and primary key ...
    missing = "cluster_id='C2' references a missing store_clusters row"
    assert has_row(out, "foreign_key_check", "stores", "rowid 3 (store_id='S3')", missing)
    assert has_row(out, "foreign_key_check", "stores", "rowid 4 (store_id='S4')", missing)
    assert has_row(
        out, "foreign_key_check", "forecast_cluster_distribution", "rowid 2 (distribution_id='D2')"
    )
    # ... the models' foreign keys checked again by join ...
    orphan = "cluster_id='C2' has no store_clusters.cluster_id"
    assert has_row(out, "orphan_rows", "stores", "store_id='S3'", orphan)
    assert has_row(out, "orphan_rows", "stores", "store_id='S4'", orphan)
    # ... and the guards that are gone, on the parent table they protected.
    assert has_row(out, "fk_guards", "store_clusters", "ffdb_fk_stores_cluster_id_parent_delete")
    assert "'S1'" not in out and "'S2'" not in out  # rows with a parent are not reported


@only_sqlite
def test_doctor_names_rows_that_break_a_check_rule(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(str(populated_url.database)) as raw:
        raw.execute("PRAGMA ignore_check_constraints=ON")
        raw.execute("UPDATE stores SET store_size_sqft = -1, region = 'MARS' WHERE store_id = 'S2'")
    result = _doctor(capsys, populated_url)
    assert result.exit_code == 1
    out = result.stdout
    assert has_row(out, "integrity_check", "stores", "", "CHECK constraint failed in stores")
    assert has_row(out, "check_constraints", "stores", "store_id='S2'", "breaks ck_stores_region")
    assert has_row(
        out, "check_constraints", "stores", "store_id='S2'", "breaks ck_stores_store_size_sqft"
    )


@only_sqlite
def test_doctor_reports_a_corrupt_index_by_table_and_row(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index whose entries do not match its table (here: its definition rewritten)."""
    with sqlite3.connect(str(populated_url.database)) as raw:
        raw.execute("PRAGMA writable_schema=ON")
        raw.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX ix_stores_cluster_id ON stores "
            "(store_name)' WHERE name = 'ix_stores_cluster_id'"
        )
    result = _doctor(capsys, populated_url)
    assert result.exit_code == 1
    assert has_row(
        result.stdout,
        "integrity_check",
        "stores",
        "rowid 1",
        "row 1 missing from index ix_stores_cluster_id",
    )


@only_postgresql
def test_doctor_names_orphans_on_postgresql(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    """``session_replication_role = replica`` skips FK triggers: PostgreSQL's pragma-off."""
    execute_sql(
        populated_url,
        "SET LOCAL session_replication_role = replica",
        "DELETE FROM store_clusters WHERE cluster_id = 'C2'",
    )
    result = _doctor(capsys, populated_url)
    assert result.exit_code == 1
    out = result.stdout
    orphan = "cluster_id='C2' has no store_clusters.cluster_id"
    assert has_row(out, "orphan_rows", "stores", "store_id='S3'", orphan)
    assert has_row(out, "orphan_rows", "stores", "store_id='S4'", orphan)
    assert has_row(out, "orphan_rows", "forecast_cluster_distribution", "distribution_id='D2'")
    assert len(table_rows(out)) == 3


@only_postgresql
def test_doctor_names_not_valid_constraints_and_the_rows_they_let_in(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    execute_sql(
        populated_url,
        "ALTER TABLE stores DROP CONSTRAINT ck_stores_median_income",
        "UPDATE stores SET median_income = -5 WHERE store_id = 'S1'",
        "ALTER TABLE stores ADD CONSTRAINT ck_stores_median_income "
        "CHECK (median_income >= 0) NOT VALID",
    )
    result = _doctor(capsys, populated_url)
    assert result.exit_code == 1
    out = result.stdout
    assert has_row(out, "unvalidated_constraint", "stores", "ck_stores_median_income")
    assert has_row(out, "check_constraints", "stores", "store_id='S1'", "breaks ck_stores_median")


def test_a_check_appended_to_the_list_is_run_by_doctor(
    migrated_url: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``doctor.CHECKS`` is the one list ``ffdb doctor`` runs: a check appended there runs."""

    def always_one(connection: Connection) -> list[Problem]:
        rows = connection.execute(text("SELECT count(*) FROM stores")).scalar_one()
        return [Problem("domain_rules", "stores", "store_id='X'", f"{rows} stores seen")]

    monkeypatch.setattr(doctor, "CHECKS", [*doctor.CHECKS, always_one])
    result = _doctor(capsys, migrated_url)
    assert result.exit_code == 1
    assert table_rows(result.stdout) == [
        ["domain_rules", "stores", "store_id='X'", "0 stores seen"]
    ]
    assert result.stderr.strip().endswith("1 problem(s) found in " + _redacted(migrated_url))


def _redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def test_doctor_caps_what_it_prints_per_rule() -> None:
    """Thousands of damaged rows give a readable report, not thousands of lines."""
    findings = [(f"store_id='S{n}'", "bad") for n in range(health.MAX_ROWS_PER_RULE + 5)]
    problems = health.cap_findings("orphan_rows", "stores", findings)
    assert len(problems) == health.MAX_ROWS_PER_RULE + 1
    assert problems[-1].key == "..."
    assert "the first 100 are shown" in problems[-1].detail


@only_sqlite
def test_doctor_json_lists_each_problem_for_tools(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = run_ffdb(capsys, "doctor", "--json", "--database-url", populated_url)
    assert (clean.exit_code, json.loads(clean.stdout)) == (0, [])
    with sqlite3.connect(str(populated_url.database)) as raw:
        raw.execute("PRAGMA ignore_check_constraints=ON")
        raw.execute("UPDATE markdowns SET week_number = 13")
    result = run_ffdb(capsys, "doctor", "--json", "--database-url", populated_url)
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert {
        "check": "check_constraints",
        "table": "markdowns",
        "key": "markdown_id='M1'",
        "detail": "breaks ck_markdowns_week_number",
    } in problems
    assert {p["check"] for p in problems} == {"integrity_check", "check_constraints"}
    assert "problem(s) found" in result.stderr
