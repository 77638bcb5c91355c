"""Re-imports, ``--dry-run``, ``--replace``, spreadsheet-safe export, on both backends."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from backend.app.cli import import_commands
from backend.app.database.db import make_engine
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import CATEGORY_ID, FORECAST_ID, REPO_EXPORTS, write_file
from backend.tests.support.samples import exports_season
from backend.tests.support.snapshot import snapshot

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
STORE_HEADER = (
    "store_id,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,"
    "store_format,region,foot_traffic,competitor_density,online_penetration,population_density,"
    "mall_location"
)


@pytest.fixture
def db(migrated_url: URL, capsys) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    stores = REPO_EXPORTS.store_file(0)
    assert (
        run_ffdb(capsys, "import", "stores", str(stores), "--database-url", migrated_url).exit_code
        == 0
    )
    exports_season().write(engine)
    yield engine
    engine.dispose()


def _weeks(*rows: tuple[str, str, int]) -> str:
    return WEEKLY + "".join(
        f"{week},{store},{CATEGORY_ID},{units}\n" for week, store, units in rows
    )


def _sales(engine: Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT store_id, week_start_date, units_sold FROM historical_sales")
        ).all()
    return {(row[0], str(row[1])): row[2] for row in rows}


def test_dry_run_reports_and_writes_nothing(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    file = write_file(
        tmp_path / "w.csv", _weeks(("2025-02-17", "S001", 5), ("2025-02-24", "S001", 6))
    )
    before = snapshot(db)
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--dry-run", "--database-url", migrated_url
    )
    assert outcome.exit_code == 0
    assert "would change: 2 inserted, 0 updated, 0 unchanged" in outcome.stdout
    assert "dry run: nothing written" in outcome.stdout
    assert snapshot(db) == before


def test_reimport_counts_updates_and_changes_nothing_twice(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    first = write_file(
        tmp_path / "a.csv", _weeks(("2025-02-17", "S001", 5), ("2025-02-24", "S001", 6))
    )
    assert (
        "2 inserted"
        in run_ffdb(
            capsys, "import", "historical-sales", str(first), "--database-url", migrated_url
        ).stdout
    )
    changed = write_file(
        tmp_path / "b.csv", _weeks(("2025-02-17", "S001", 5), ("2025-02-24", "S001", 9))
    )
    out = run_ffdb(
        capsys, "import", "historical-sales", str(changed), "--database-url", migrated_url
    ).stdout
    assert "0 inserted, 1 updated, 1 unchanged" in out
    before = snapshot(db)
    out = run_ffdb(
        capsys, "import", "historical-sales", str(changed), "--database-url", migrated_url
    ).stdout
    assert "0 inserted, 0 updated, 2 unchanged" in out
    assert snapshot(db) == before
    with db.connect() as connection:
        ids = connection.execute(text("SELECT sale_id FROM historical_sales ORDER BY 1")).scalars()
        assert list(ids) == [
            f"HS:S001:{CATEGORY_ID}:2025-02-17",
            f"HS:S001:{CATEGORY_ID}:2025-02-24",
        ]


def test_replace_deletes_only_the_uncovered_rows_of_the_files_range(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    weeks = ["2025-02-10", "2025-02-17", "2025-02-24", "2025-03-03", "2025-03-10"]
    stored = [(week, store, 1) for week in weeks for store in ("S001", "S002")]
    run_ffdb(
        capsys,
        "import",
        "historical-sales",
        str(write_file(tmp_path / "a.csv", _weeks(*stored))),
        "--database-url",
        migrated_url,
    )
    # S001 only, weeks 2025-02-17..2025-03-03, without 2025-02-24.
    file = write_file(
        tmp_path / "b.csv", _weeks(("2025-02-17", "S001", 7), ("2025-03-03", "S001", 1))
    )
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--replace", "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "0 inserted, 1 updated, 1 unchanged, 1 replaced rows deleted" in outcome.stdout
    sales = _sales(db)
    assert ("S001", "2025-02-24") not in sales
    assert sales[("S001", "2025-02-17")] == 7
    # Outside the file's range, and other stores, stay.
    assert ("S001", "2025-02-10") in sales and ("S001", "2025-03-10") in sales
    assert all(("S002", week) in sales for week in weeks)


def test_replace_of_actuals_replaces_that_forecasts_week(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    for week in (1, 2):
        source = REPO_EXPORTS.actuals_week(week)
        run_ffdb(
            capsys,
            "import",
            "actuals",
            str(source),
            "--forecast-id",
            FORECAST_ID,
            "--database-url",
            migrated_url,
        )
    file = write_file(tmp_path / "w.csv", "store_id,week_number,units_sold\nS001,1,5\nS002,1,6\n")
    outcome = run_ffdb(
        capsys,
        "import",
        "actuals",
        str(file),
        "--forecast-id",
        FORECAST_ID,
        "--replace",
        "--database-url",
        migrated_url,
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert f"{REPO_EXPORTS.stores - 2} replaced rows deleted" in outcome.stdout
    with db.connect() as connection:
        weeks = dict(
            connection.execute(
                text("SELECT week_number, COUNT(*) FROM actual_sales GROUP BY week_number")
            ).all()
        )
    assert weeks == {1: 2, 2: REPO_EXPORTS.stores}


def test_week_option_must_name_the_week_the_dates_fall_in(
    db: Engine, migrated_url: URL, capsys
) -> None:
    source = REPO_EXPORTS.actuals_week(1)
    before = snapshot(db)
    args = ("import", "actuals", str(source), "--forecast-id", FORECAST_ID, "--week")
    outcome = run_ffdb(capsys, *args, "3", "--database-url", migrated_url)
    assert outcome.exit_code != 0
    assert (
        f"{source}:2: date: in season week 1 (2025-02-17..2025-02-23), not in --week 3: "
        "season week 3 (2025-03-03..2025-03-09) ('2025-02-17')"
    ) in outcome.stderr
    assert f"{7 * REPO_EXPORTS.stores} problems; nothing was imported" in outcome.stderr
    assert snapshot(db) == before
    outcome = run_ffdb(capsys, *args, "1", "--database-url", migrated_url)
    assert outcome.exit_code == 0, outcome.stderr
    with db.connect() as connection:
        assert connection.execute(
            text("SELECT DISTINCT week_number FROM actual_sales")
        ).scalars().all() == [1]


def test_store_reimport_keeps_names_and_merges_or_replaces_extras(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    with db.begin() as connection:
        connection.execute(
            text("UPDATE stores SET store_name = 'Flagship' WHERE store_id = 'S001'")
        )
    file = write_file(
        tmp_path / "s.csv",
        STORE_HEADER.replace(",mall_location", ",parking_spaces")
        + "\nS001,924,12500,142000,a,premium,shopping center,north east,2800,6.2,0.48,14500,120\n",
    )
    outcome = run_ffdb(capsys, "import", "stores", str(file), "--database-url", migrated_url)
    assert outcome.exit_code == 0, outcome.stderr
    assert "0 inserted, 1 updated, 0 unchanged" in outcome.stdout
    with db.connect() as connection:
        name, store_format, region = connection.execute(
            text("SELECT store_name, store_format, region FROM stores WHERE store_id = 'S001'")
        ).one()
        assert (name, store_format, region) == ("Flagship", "SHOPPING_CENTER", "NORTHEAST")
    exported = tmp_path / "out.csv"
    run_ffdb(capsys, "export", "stores", "-o", str(exported), "--database-url", migrated_url)
    with open(exported, newline="") as handle:
        first = next(csv.DictReader(handle))
    assert first["mall_location"] == "True"  # kept from the first import: merged
    assert first["parking_spaces"] == "120"  # a column the schema has no place for, kept
    outcome = run_ffdb(
        capsys, "import", "stores", str(file), "--replace", "--database-url", migrated_url
    )
    assert "1 updated" in outcome.stdout
    run_ffdb(capsys, "export", "stores", "-o", str(exported), "--database-url", migrated_url)
    with open(exported, newline="") as handle:
        first = next(csv.DictReader(handle))
    assert first["mall_location"] == "" and first["parking_spaces"] == "120"


def test_export_neutralizes_formulas_and_import_restores_them(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    tricky = ['=HYPERLINK("x")', "+1", "-S9", "@SUM(A1)", "'=quoted", "'plain"]
    rows = "".join(
        f"{store},900,12500,142000,A,Value,Outlet,West,1,1.5,0.5,2,False,{store}\n"
        for store in tricky
    )
    source = tmp_path / "s.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*STORE_HEADER.split(","), "store_name"])
        for row in csv.reader(rows.splitlines()):
            writer.writerow(row)
    # In a retailer's file, "'=quoted" is an escaped "=quoted"; our own ids are as given.
    assert (
        run_ffdb(capsys, "import", "stores", str(source), "--database-url", migrated_url).exit_code
        == 0
    )
    exported = tmp_path / "out.csv"
    run_ffdb(capsys, "export", "stores", "-o", str(exported), "--database-url", migrated_url)
    cells = [row[0] for row in csv.reader(exported.read_text().splitlines()[1:])]
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@"):
            pytest.fail(f"{cell!r} would run as a formula")
    assert '\'=HYPERLINK("x")' in cells and "'-S9" in cells
    # A stored value that starts with ' gets one more, so the import's strip is exact.
    assert "''plain" in cells
    before = snapshot(db)
    again = run_ffdb(capsys, "import", "stores", str(exported), "--database-url", migrated_url)
    assert f"0 inserted, 0 updated, {REPO_EXPORTS.stores + len(tricky)} unchanged" in again.stdout
    assert snapshot(db) == before


def test_export_of_other_tables_and_refusals(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "c.csv"
    assert (
        run_ffdb(
            capsys, "export", "categories", "-o", str(out), "--database-url", migrated_url
        ).exit_code
        == 0
    )
    header, row = out.read_text().splitlines()
    assert header.startswith("category_id,category_name,season_start_date,season_end_date")
    assert row.startswith(f"{CATEGORY_ID},Women's Dresses,2025-02-17,2025-05-11,12,FASHION_RETAIL")
    refused = run_ffdb(capsys, "export", "actual_sales", "--database-url", migrated_url)
    assert refused.exit_code != 0 and "--forecast-id" in refused.stderr
    refused = run_ffdb(capsys, "export", "nonsense", "--database-url", migrated_url)
    assert refused.exit_code != 0 and "no table 'nonsense'" in refused.stderr


def test_daily_export_names_an_existing_category_by_name(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    file = write_file(
        tmp_path / "d.csv",
        "date,store_id,category,quantity_sold\n2025-02-19,S001,WOMEN'S DRESSES,3\n"
        "2025-02-20,S001,Women's Dresses,4\n2025-02-24,S001,women's dresses,1\n",
    )
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "created" not in outcome.stdout
    assert _sales(db) == {("S001", "2025-02-17"): 7, ("S001", "2025-02-24"): 1}


def test_an_import_hit_by_a_transient_fault_is_retried_and_lands_once(
    db: Engine,
    migrated_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lock held past the busy timeout on the first attempt: the whole import runs again."""
    real_import = import_commands.import_historical_sales
    calls: list[int] = []

    def locked_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", {}, locked)
        return real_import(*args, **kwargs)

    monkeypatch.setattr(import_commands, "import_historical_sales", locked_once)
    monkeypatch.setattr("backend.app.database.retry.time.sleep", lambda _seconds: None)
    file = write_file(tmp_path / "weekly.csv", WEEKLY + f"2025-02-17,S001,{CATEGORY_ID},7\n")
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert len(calls) == 2
    assert "1 inserted" in outcome.stdout
    with db.connect() as connection:
        assert connection.execute(text("SELECT units_sold FROM historical_sales")).all() == [(7,)]
