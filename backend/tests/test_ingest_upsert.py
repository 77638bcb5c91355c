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
from backend.tests.ingest_support import (
    CATEGORY_ID,
    FIXTURES,
    FORECAST_ID,
    ffdb,
    seed_season,
    snapshot,
    write,
)

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
STORE_HEADER = (
    "store_id,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,"
    "store_format,region,foot_traffic,competitor_density,online_penetration,population_density,"
    "mall_location"
)


@pytest.fixture
def db(migrated_url: URL, shared_dir: Path, capsys) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    stores = shared_dir / FIXTURES / "store_attributes.csv"
    assert ffdb(capsys, migrated_url, "import", "stores", str(stores)).code == 0
    seed_season(engine)
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
    file = write(tmp_path / "w.csv", _weeks(("2025-02-17", "S001", 5), ("2025-02-24", "S001", 6)))
    before = snapshot(db)
    outcome = ffdb(capsys, migrated_url, "import", "historical-sales", str(file), "--dry-run")
    assert outcome.code == 0
    assert "would change: 2 inserted, 0 updated, 0 unchanged" in outcome.out
    assert "dry run: nothing written" in outcome.out
    assert snapshot(db) == before


def test_reimport_counts_updates_and_changes_nothing_twice(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    first = write(tmp_path / "a.csv", _weeks(("2025-02-17", "S001", 5), ("2025-02-24", "S001", 6)))
    assert "2 inserted" in ffdb(capsys, migrated_url, "import", "historical-sales", str(first)).out
    changed = write(
        tmp_path / "b.csv", _weeks(("2025-02-17", "S001", 5), ("2025-02-24", "S001", 9))
    )
    out = ffdb(capsys, migrated_url, "import", "historical-sales", str(changed)).out
    assert "0 inserted, 1 updated, 1 unchanged" in out
    before = snapshot(db)
    out = ffdb(capsys, migrated_url, "import", "historical-sales", str(changed)).out
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
    ffdb(
        capsys,
        migrated_url,
        "import",
        "historical-sales",
        str(write(tmp_path / "a.csv", _weeks(*stored))),
    )
    # S001 only, weeks 2025-02-17..2025-03-03, without 2025-02-24.
    file = write(tmp_path / "b.csv", _weeks(("2025-02-17", "S001", 7), ("2025-03-03", "S001", 1)))
    outcome = ffdb(capsys, migrated_url, "import", "historical-sales", str(file), "--replace")
    assert outcome.code == 0, outcome.err
    assert "0 inserted, 1 updated, 1 unchanged, 1 replaced rows deleted" in outcome.out
    sales = _sales(db)
    assert ("S001", "2025-02-24") not in sales
    assert sales[("S001", "2025-02-17")] == 7
    # Outside the file's range, and other stores, stay.
    assert ("S001", "2025-02-10") in sales and ("S001", "2025-03-10") in sales
    assert all(("S002", week) in sales for week in weeks)


def test_replace_of_actuals_replaces_that_forecasts_week(
    db: Engine, migrated_url: URL, shared_dir: Path, tmp_path: Path, capsys
) -> None:
    for week in (1, 2):
        source = shared_dir / FIXTURES / "normal_season" / f"actuals_week_{week:02d}.csv"
        ffdb(capsys, migrated_url, "import", "actuals", str(source), "--forecast-id", FORECAST_ID)
    file = write(tmp_path / "w.csv", "store_id,week_number,units_sold\nS001,1,5\nS002,1,6\n")
    outcome = ffdb(
        capsys,
        migrated_url,
        "import",
        "actuals",
        str(file),
        "--forecast-id",
        FORECAST_ID,
        "--replace",
    )
    assert outcome.code == 0, outcome.err
    assert "48 replaced rows deleted" in outcome.out
    with db.connect() as connection:
        weeks = dict(
            connection.execute(
                text("SELECT week_number, COUNT(*) FROM actual_sales GROUP BY week_number")
            ).all()
        )
    assert weeks == {1: 2, 2: 50}


def test_week_option_must_name_the_week_the_dates_fall_in(
    db: Engine, migrated_url: URL, shared_dir: Path, capsys
) -> None:
    source = shared_dir / FIXTURES / "normal_season" / "actuals_week_01.csv"
    before = snapshot(db)
    args = ("import", "actuals", str(source), "--forecast-id", FORECAST_ID, "--week")
    outcome = ffdb(capsys, migrated_url, *args, "3")
    assert outcome.code != 0
    assert (
        f"{source}:2: date: in season week 1 (2025-02-17..2025-02-23), not in --week 3: "
        "season week 3 (2025-03-03..2025-03-09) ('2025-02-17')"
    ) in outcome.err
    assert "350 problems; nothing was imported" in outcome.err
    assert snapshot(db) == before
    outcome = ffdb(capsys, migrated_url, *args, "1")
    assert outcome.code == 0, outcome.err
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
    file = write(
        tmp_path / "s.csv",
        STORE_HEADER.replace(",mall_location", ",parking_spaces")
        + "\nS001,924,12500,142000,a,premium,shopping center,north east,2800,6.2,0.48,14500,120\n",
    )
    outcome = ffdb(capsys, migrated_url, "import", "stores", str(file))
    assert outcome.code == 0, outcome.err
    assert "0 inserted, 1 updated, 0 unchanged" in outcome.out
    with db.connect() as connection:
        name, store_format, region = connection.execute(
            text("SELECT store_name, store_format, region FROM stores WHERE store_id = 'S001'")
        ).one()
        assert (name, store_format, region) == ("Flagship", "SHOPPING_CENTER", "NORTHEAST")
    exported = tmp_path / "out.csv"
    ffdb(capsys, migrated_url, "export", "stores", "-o", str(exported))
    with open(exported, newline="") as handle:
        first = next(csv.DictReader(handle))
    assert first["mall_location"] == "True"  # kept from the first import: merged
    assert first["parking_spaces"] == "120"  # a column the schema has no place for, kept
    outcome = ffdb(capsys, migrated_url, "import", "stores", str(file), "--replace")
    assert "1 updated" in outcome.out
    ffdb(capsys, migrated_url, "export", "stores", "-o", str(exported))
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
    assert ffdb(capsys, migrated_url, "import", "stores", str(source)).code == 0
    exported = tmp_path / "out.csv"
    ffdb(capsys, migrated_url, "export", "stores", "-o", str(exported))
    cells = [row[0] for row in csv.reader(exported.read_text().splitlines()[1:])]
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@"):
            pytest.fail(f"{cell!r} would run as a formula")
    assert '\'=HYPERLINK("x")' in cells and "'-S9" in cells
    # A stored value that starts with ' gets one more, so the import's strip is exact.
    assert "''plain" in cells
    before = snapshot(db)
    again = ffdb(capsys, migrated_url, "import", "stores", str(exported))
    assert "0 inserted, 0 updated, 56 unchanged" in again.out
    assert snapshot(db) == before


def test_export_of_other_tables_and_refusals(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "c.csv"
    assert ffdb(capsys, migrated_url, "export", "categories", "-o", str(out)).code == 0
    header, row = out.read_text().splitlines()
    assert header.startswith("category_id,category_name,season_start_date,season_end_date")
    assert row.startswith(f"{CATEGORY_ID},Women's Dresses,2025-02-17,2025-05-11,12,FASHION_RETAIL")
    refused = ffdb(capsys, migrated_url, "export", "actual_sales")
    assert refused.code != 0 and "--forecast-id" in refused.err
    refused = ffdb(capsys, migrated_url, "export", "nonsense")
    assert refused.code != 0 and "no table 'nonsense'" in refused.err


def test_daily_export_names_an_existing_category_by_name(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    file = write(
        tmp_path / "d.csv",
        "date,store_id,category,quantity_sold\n2025-02-19,S001,WOMEN'S DRESSES,3\n"
        "2025-02-20,S001,Women's Dresses,4\n2025-02-24,S001,women's dresses,1\n",
    )
    outcome = ffdb(capsys, migrated_url, "import", "historical-sales", str(file))
    assert outcome.code == 0, outcome.err
    assert "created" not in outcome.out
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
    file = write(tmp_path / "weekly.csv", WEEKLY + f"2025-02-17,S001,{CATEGORY_ID},7\n")
    outcome = ffdb(capsys, migrated_url, "import", "historical-sales", str(file))
    assert outcome.code == 0, outcome.err
    assert len(calls) == 2
    assert "1 inserted" in outcome.out
    with db.connect() as connection:
        assert connection.execute(text("SELECT units_sold FROM historical_sales")).all() == [(7,)]
