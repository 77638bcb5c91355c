"""Actuals against a forecast's season weeks: dates checked against ``--week``, complete
weeks, deliberate corrections; on SQLite and PostgreSQL.

The forecast's season starts on Saturday 2025-03-01, as the system's own scenarios do:
season week N is Saturday..Friday from 2025-03-01 + 7*(N-1).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.domain import records
from backend.app.domain.rules import ClusterShare, curve_from_units
from backend.app.maintenance.definitions import actual_sales_id
from backend.tests.support.cli import Result, run_ffdb
from backend.tests.support.exports import write_file as write
from backend.tests.support.meanings import MEANINGS_DIR, SEASON_START, STORES, twelve_store_database
from backend.tests.support.snapshot import snapshot

DATA = MEANINGS_DIR
FORECAST = "F_SAT"
DAILY = "date,store_id,quantity_sold\n"
WEEKLY = "store_id,week_number,units_sold\n"
PARTIAL_HINT = "give --allow-partial to load a partial week"


@pytest.fixture
def db(migrated_url: URL, capsys: pytest.CaptureFixture[str]) -> Iterator[Engine]:
    """Twelve stores, a Saturday season, its forecast and an allocation to all 12 stores."""
    engine = twelve_store_database(migrated_url, capsys, {"womens_dresses": "Women's Dresses"})
    with Session(engine) as session:
        records.record_forecast(
            session,
            forecast_id=FORECAST,
            category_id="womens_dresses",
            season="Spring 2025",
            forecast_horizon_weeks=12,
            total_season_demand=1200,
            weekly_demand_curve=curve_from_units([100] * 12),
            cluster_distribution=[
                ClusterShare("CL-PREMIUM", 0.5, 600),
                ClusterShare("CL-MAINSTREAM", 0.25, 300),
                ClusterShare("CL-VALUE", 0.25, 300),
            ],
        )
        records.record_allocation(
            session,
            allocation_id="AL_SAT",
            forecast_id=FORECAST,
            manufacturing_qty=1800,
            initial_allocation_total=1200,
            holdback_total=600,
            store_allocations=[
                {"store_id": store, "initial": 100, "holdback": 50} for store in STORES
            ],
        )
        session.commit()
    yield engine
    engine.dispose()


def _daily(first: date, days: int, stores: tuple[str, ...] = STORES, units: int = 2) -> str:
    return DAILY + "".join(
        f"{first + timedelta(days=n)},{store},{units}\n" for n in range(days) for store in stores
    )


def _actuals(engine: Engine) -> dict[tuple[str, int], tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT store_id, week_number, actual_id, units_sold FROM actual_sales")
        ).all()
    return {(store, week): (actual_id, units) for store, week, actual_id, units in rows}


def _import(capsys: pytest.CaptureFixture[str], url: URL, file: Path, *options: str) -> Result:
    return run_ffdb(
        capsys,
        "import",
        "actuals",
        str(file),
        "--forecast-id",
        FORECAST,
        *options,
        "--database-url",
        url,
    )


# --- season weeks -------------------------------------------------------------------------


def test_seven_days_from_a_saturday_are_one_season_week(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "week2.csv", _daily(date(2025, 3, 8), 7))  # Saturday..Friday
    outcome = _import(capsys, migrated_url, file)
    assert outcome.exit_code == 0, outcome.stderr
    assert "84 rows read" in outcome.stdout and "12 inserted" in outcome.stdout
    stored = _actuals(db)
    assert stored == {(store, 2): (actual_sales_id(FORECAST, store, 2), 14) for store in STORES}
    again = _import(capsys, migrated_url, file, "--week", "2")
    assert again.exit_code == 0 and "0 inserted, 0 updated, 12 unchanged" in again.stdout


def test_with_week_n_every_date_must_fall_in_week_n(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "week3.csv", _daily(date(2025, 3, 15), 7))  # season week 3
    before = snapshot(db)
    outcome = _import(capsys, migrated_url, file, "--week", "2")
    assert outcome.exit_code != 0
    lines = outcome.stderr.splitlines()
    assert lines[0] == (
        f"{file}:2: date: in season week 3 (2025-03-15..2025-03-21), not in --week 2: "
        "season week 2 (2025-03-08..2025-03-14) ('2025-03-15')"
    )
    assert "84 problems; nothing was imported" in outcome.stderr
    assert snapshot(db) == before
    assert _import(capsys, migrated_url, file, "--week", "3").exit_code == 0
    assert {week for _, week in _actuals(db)} == {3}


def test_a_monday_to_sunday_file_spans_two_saturday_weeks_and_is_refused(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "monday.csv", _daily(date(2025, 3, 10), 7, ("S001",)))
    outcome = _import(capsys, migrated_url, file)
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines()[0] == (
        f"{file}:7: date: in season week 3 (2025-03-15..2025-03-21), but line 2 (2025-03-10) "
        "is in season week 2 (2025-03-08..2025-03-14): an actuals file holds one week "
        "('2025-03-15')"
    )
    assert "2 problems" in outcome.stderr  # Saturday and Sunday


def test_weeks_outside_the_forecast_are_refused(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    early = write(tmp_path / "early.csv", _daily(date(2025, 2, 27), 1, ("S001",)))
    assert "before the forecast's season, which starts 2025-03-01" in (
        _import(capsys, migrated_url, early).stderr
    )
    late = write(tmp_path / "late.csv", _daily(date(2025, 5, 24), 1, ("S001",)))
    assert "in season week 13 (2025-05-24..2025-05-30), after forecast F_SAT's last week 12" in (
        _import(capsys, migrated_url, late).stderr
    )
    weekly = write(tmp_path / "weekly.csv", WEEKLY + "S001,13,5\nS002,2,5\n")
    outcome = _import(capsys, migrated_url, weekly, "--week", "3", "--allow-partial")
    assert f"{weekly}:2: week_number: outside forecast F_SAT's weeks 1..12 ('13')" in outcome.stderr
    assert f"{weekly}:3: week_number: week 2, but --week is 3 ('2')" in outcome.stderr


# --- complete weeks -----------------------------------------------------------------------


def test_a_week_missing_days_or_stores_is_refused_naming_them_unless_allow_partial(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3 of 12 stores, 2 of 7 days (Monday and Tuesday of season week 2).
    file = write(tmp_path / "partial.csv", _daily(date(2025, 3, 10), 2, STORES[:3]))
    before = snapshot(db)
    outcome = _import(capsys, migrated_url, file)
    assert outcome.exit_code != 0
    missing_days = "2025-03-08, 2025-03-09, 2025-03-12, 2025-03-13, 2025-03-14"
    assert outcome.stderr.splitlines()[:2] == [
        f"{file}:2: date: season week 2 (2025-03-08..2025-03-14) is incomplete: 3 store(s) lack "
        f"days: S001 (no {missing_days}), S002 (no {missing_days}), S003 (no {missing_days}); "
        f"{PARTIAL_HINT}",
        f"{file}:2: store_id: season week 2 (2025-03-08..2025-03-14): 9 store(s) of allocation "
        f"AL_SAT have no row: S004, S005, S006, S007, S008, S009, S010, S011, S012; "
        f"{PARTIAL_HINT}",
    ]
    assert snapshot(db) == before
    outcome = _import(capsys, migrated_url, file, "--allow-partial")
    assert outcome.exit_code == 0, outcome.stderr
    assert _actuals(db) == {
        (store, 2): (actual_sales_id(FORECAST, store, 2), 4) for store in STORES[:3]
    }


@pytest.mark.parametrize("arrow", [False, True], ids=["row by row", "arrow"])
def test_a_repeated_store_and_week_is_refused_alone_by_either_route(
    arrow: bool,
    db: Engine,
    migrated_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file that repeats a key (and misses allocated stores) is refused for the repeat
    alone, as the row-by-row route refuses it: the Arrow route leaves a forecast's first
    actuals' repeats to the table's unique index, and names them when anything fails."""
    monkeypatch.setenv("FFDB_ARROW_MIN_BYTES", "0" if arrow else str(1 << 40))
    rows = "S001,1,10\nS002,1,10\nS001,1,12\n"
    file = write(tmp_path / "repeats.csv", WEEKLY + rows)
    before = snapshot(db)
    outcome = _import(capsys, migrated_url, file)
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines() == [
        f"{file}:4: row: duplicate store and week, first on line 2 ('S001 1')",
        "error: 1 problem; nothing was imported",
    ]
    complete = WEEKLY + "".join(f"{store},1,10\n" for store in STORES) + "S001,1,12\n"
    file = write(tmp_path / "complete.csv", complete)
    outcome = _import(capsys, migrated_url, file)
    assert outcome.stderr.splitlines() == [
        f"{file}:14: row: duplicate store and week, first on line 2 ('S001 1')",
        "error: 1 problem; nothing was imported",
    ]
    assert snapshot(db) == before


def test_missing_stores_are_named_up_to_ten_then_counted(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "one.csv", _daily(date(2025, 3, 8), 7, ("S001",)))
    outcome = _import(capsys, migrated_url, file)
    assert outcome.exit_code != 0
    assert (
        f"{file}:2: store_id: season week 2 (2025-03-08..2025-03-14): 11 store(s) of "
        "allocation AL_SAT have no row: S002, S003, S004, S005, S006, S007, S008, S009, S010, "
        f"S011 and 1 more; {PARTIAL_HINT}"
    ) in outcome.stderr


def test_a_weekly_file_missing_allocated_stores_is_refused_per_week(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "".join(f"{store},1,10\n" for store in STORES) + "S001,2,10\n"
    file = write(tmp_path / "weekly.csv", WEEKLY + rows)
    outcome = _import(capsys, migrated_url, file)
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines() == [
        f"{file}:14: store_id: season week 2 (2025-03-08..2025-03-14): 11 store(s) of "
        "allocation AL_SAT have no row: S002, S003, S004, S005, S006, S007, S008, S009, S010, "
        f"S011 and 1 more; {PARTIAL_HINT}",
        "error: 1 problem; nothing was imported",
    ]
    assert _import(capsys, migrated_url, file, "--allow-partial").exit_code == 0
    assert len(_actuals(db)) == 13


# --- deliberate corrections ---------------------------------------------------------------


def test_identical_data_is_a_no_op_and_changes_need_replace(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "week1.csv", _daily(SEASON_START, 7))
    assert _import(capsys, migrated_url, file).exit_code == 0
    before = snapshot(db)
    again = _import(capsys, migrated_url, file)
    assert "0 inserted, 0 updated, 12 unchanged" in again.stdout
    assert snapshot(db) == before

    # Another file for the loaded week: S001 and S002 sold more on its Monday.
    changed = (
        _daily(SEASON_START, 7)
        .replace("2025-03-03,S001,2", "2025-03-03,S001,5")
        .replace("2025-03-03,S002,2", "2025-03-03,S002,9")
    )
    other = write(tmp_path / "week1-restated.csv", changed)
    outcome = _import(capsys, migrated_url, other)
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines()[:2] == [
        f"{other}:2: units_sold: store S001 week 1 is loaded with 14 units, this file has 17: "
        "give --replace to change loaded values",
        f"{other}:3: units_sold: store S002 week 1 is loaded with 14 units, this file has 21: "
        "give --replace to change loaded values",
    ]
    assert snapshot(db) == before
    outcome = _import(capsys, migrated_url, other, "--replace")
    assert outcome.exit_code == 0, outcome.stderr
    assert "0 inserted, 2 updated, 10 unchanged" in outcome.stdout
    assert _actuals(db)[("S002", 1)] == (actual_sales_id(FORECAST, "S002", 1), 21)


def test_new_rows_for_a_loaded_forecast_need_no_replace(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _import(capsys, migrated_url, write(tmp_path / "1.csv", _daily(SEASON_START, 7))).exit_code
        == 0
    )
    second = write(tmp_path / "2.csv", _daily(SEASON_START + timedelta(weeks=1), 7))
    outcome = _import(capsys, migrated_url, second)
    assert outcome.exit_code == 0, outcome.stderr
    assert "12 inserted, 0 updated, 0 unchanged" in outcome.stdout
