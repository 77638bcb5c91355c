"""``ffdb doctor`` reports every finding it can and its advice works (issue 12, items 4, 12).

Damage comes from the plain ``sqlite3`` shell, as a foreign client would write it:
SQLite stores ``'abc'`` in an INTEGER column and malformed text in a JSON one. Doctor
names each damaged row and never stops at the first; a check that cannot run is a
finding, not a crash; ``ffdb variance`` refuses damaged rows instead of counting them
as 0; and following doctor's advice makes doctor pass.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from backend.app.domain import doctor
from backend.app.maintenance import health
from backend.app.schemas.problems import Problem
from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import small_season
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import execute_sql, query_rows

only_sqlite = pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)


@pytest.fixture
def populated_url(migrated_url: URL) -> Iterator[URL]:
    small_season().write(migrated_url)
    yield migrated_url


def _sqlite3(url: URL, sql: str) -> None:
    """The plain ``sqlite3`` shell: a foreign client that never sets our pragmas."""
    done = subprocess.run(
        ["sqlite3", str(url.database), sql], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _findings(capsys: pytest.CaptureFixture[str], url: URL) -> list[dict[str, str]]:
    result = run_ffdb(capsys, "doctor", "--json", "--database-url", url)
    found: list[dict[str, str]] = json.loads(result.stdout)
    assert result.exit_code == (1 if found else 0), result.output
    return found


@only_sqlite
def test_doctor_reports_malformed_json_and_wrong_storage_types_and_goes_on(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    (actual_id,) = query_rows(populated_url, "SELECT min(actual_id) FROM actual_sales")[0]
    (sale_id,) = query_rows(populated_url, "SELECT min(sale_id) FROM historical_sales")[0]
    _sqlite3(
        populated_url,
        "UPDATE forecasts SET weekly_demand_curve = '[{\"week_number\": 1,' "
        "WHERE forecast_id = 'F1';"
        f"UPDATE actual_sales SET units_sold = 'abc' WHERE actual_id = '{actual_id}';"
        f"UPDATE historical_sales SET week_start_date = 'not-a-date' WHERE sale_id = '{sale_id}';"
        "UPDATE stores SET store_size_sqft = 2.5 WHERE store_id = 'S2';"
        "PRAGMA ignore_check_constraints=ON;"
        "UPDATE stores SET median_income = -1 WHERE store_id = 'S3';",
    )

    found = _findings(capsys, populated_url)

    by_check = {(f["check"], f["table"], f["key"]): f["detail"] for f in found}
    assert "not valid JSON" in by_check[("forecast_curve_shape", "forecasts", "F1")]
    assert (
        "weekly_demand_curve holds text"
        in by_check[("storage_types", "forecasts", "forecast_id='F1'")]
    )
    assert (
        "units_sold holds text 'abc', expected a whole number"
        in by_check[("storage_types", "actual_sales", f"actual_id={actual_id!r}")]
    )
    assert (
        "week_start_date holds text 'not-a-date', expected an ISO date"
        in by_check[("storage_types", "historical_sales", f"sale_id={sale_id!r}")]
    )
    assert (
        "store_size_sqft holds real 2.5" in by_check[("storage_types", "stores", "store_id='S2'")]
    )
    # Findings of other checks are still there, after and besides the damaged JSON.
    assert ("check_constraints", "stores", "store_id='S3'") in by_check
    assert not [f for f in found if f["check"] == "doctor"], found


@only_sqlite
def test_variance_refuses_units_stored_as_text_instead_of_counting_zero(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    (actual_id, week) = query_rows(
        populated_url,
        "SELECT actual_id, week_number FROM actual_sales WHERE forecast_id = 'F1' "
        "ORDER BY actual_id LIMIT 1",
    )[0]
    _sqlite3(
        populated_url, f"UPDATE actual_sales SET units_sold = 'abc' WHERE actual_id = '{actual_id}'"
    )

    for command in ("variance", "sell-through"):
        result = run_ffdb(
            capsys, command, "F1", "--week", str(week), "--database-url", populated_url
        )

        assert result.exit_code == 1, result.output
        assert "units_sold holds text 'abc'" in result.stderr
        assert "ffdb doctor" in result.stderr


def test_a_check_that_fails_is_a_finding_and_the_others_still_run(
    populated_url: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_check(connection: Connection) -> list[Problem]:
        connection.execute(text("SELECT no_such_column FROM no_such_table"))
        return []

    def later_check(connection: Connection) -> list[Problem]:
        # Runs after the failure, in a transaction that is still usable (PostgreSQL).
        (stores,) = connection.execute(text("SELECT count(*) FROM stores")).one()
        return [Problem("later", "stores", "", f"{stores} stores")]

    monkeypatch.setattr(doctor, "CHECKS", [broken_check, *health.CHECKS, later_check])

    found = _findings(capsys, populated_url)

    assert found[0]["check"] == "doctor" and found[0]["key"] == "broken check"
    assert "could not finish" in found[0]["detail"]
    assert found[-1] == {"check": "later", "table": "stores", "key": "", "detail": "4 stores"}


# --- advice that works ---------------------------------------------------------------------


@only_sqlite
def test_missing_guard_advice_says_fix_the_orphans_first_and_following_it_works(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    _sqlite3(
        populated_url,
        'DROP TRIGGER "ffdb_fk_stores_cluster_id_update"; PRAGMA foreign_keys=OFF; '
        "UPDATE stores SET cluster_id = 'GONE' WHERE store_id = 'S4';",
    )

    found = _findings(capsys, populated_url)

    guard = next(f for f in found if f["check"] == "fk_guards")
    assert "first delete or repair the orphan rows" in guard["detail"]
    checked = run_ffdb(capsys, "check", "--database-url", populated_url)
    assert checked.exit_code == 1
    assert (
        "repair or delete the rows `ffdb doctor` lists, then run `ffdb upgrade`" in checked.stderr
    )
    assert run_ffdb(capsys, "upgrade", "--database-url", populated_url).exit_code == 1
    assert any(f["check"] == "foreign_key_check" for f in found)
    # The advice, in its order: the orphans, then `ffdb upgrade`.
    execute_sql(populated_url, "UPDATE stores SET cluster_id = 'C2' WHERE store_id = 'S4'")
    upgraded = run_ffdb(capsys, "upgrade", "--database-url", populated_url)
    assert upgraded.exit_code == 0, upgraded.output
    assert _findings(capsys, populated_url) == []


@only_sqlite
def test_missing_guard_advice_without_orphans_is_upgrade_and_it_works(
    populated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    _sqlite3(
        populated_url,
        "SELECT 1; "
        + "".join(
            f'DROP TRIGGER "{name}";'
            for (name,) in query_rows(
                populated_url, "SELECT name FROM sqlite_master WHERE type = 'trigger' LIMIT 2"
            )
        ),
    )
    found = _findings(capsys, populated_url)
    assert {f["detail"] for f in found} == {
        "guard trigger missing: run `ffdb upgrade` to rebuild the guards"
    }

    assert run_ffdb(capsys, "upgrade", "--database-url", populated_url).exit_code == 0
    assert _findings(capsys, populated_url) == []


def test_an_unknown_revision_is_not_advised_an_upgrade_and_a_restore_works(
    populated_url: URL, capsys: pytest.CaptureFixture[str], backend_name: str
) -> None:
    before = snapshot(populated_url)
    backup = None
    if backend_name == "sqlite":
        saved = run_ffdb(capsys, "backup", "--database-url", populated_url)
        backup = saved.stdout.strip().rsplit(" to ", 1)[1]
    execute_sql(populated_url, "UPDATE alembic_version SET version_num = '9999_newer'")

    for command in ("stats", "check", "doctor", "export"):
        args = [command, "stores"] if command == "export" else [command]
        result = run_ffdb(capsys, *args, "--database-url", populated_url)
        assert result.exit_code == 1, result.output
        assert "9999_newer, which this version of ffdb does not know" in result.stderr
        assert "run `ffdb upgrade`" not in result.stderr
        assert "`ffdb restore` a backup" in result.stderr
    # Upgrading would not have helped:
    assert (
        run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", populated_url).exit_code == 1
    )

    if backup is not None:
        restored = run_ffdb(capsys, "restore", backup, "--database-url", populated_url)
        assert restored.exit_code == 0, restored.output
        assert snapshot(populated_url) == before
        assert run_ffdb(capsys, "doctor", "--database-url", populated_url).exit_code == 0
