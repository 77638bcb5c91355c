"""Every export file imports unchanged and round-trips through ``ffdb export``.

The round trips run on each export set (``support/exports.py``): the repository's own
files in ``data/`` always, the retailer's in ``../shared`` as the extra ``retailer``
suite. The formats only the repository's set holds (weekly actuals, daily and weekly
history) are checked against the daily files they sum up.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import (
    CATEGORY_ID,
    CATEGORY_NAME,
    DAILY_HISTORY,
    DATA_DIR,
    FORECAST_ID,
    REPO_EXPORTS,
    SEASON_START,
    SEASON_WEEKS,
    WEEKLY_ACTUALS,
    WEEKLY_HISTORY,
    ExportSet,
)
from backend.tests.support.samples import exports_season
from backend.tests.support.snapshot import snapshot

LAYOUTS = {"whole_numbers": 0, "decimals": 1}
DAYS_PER_WEEK = 7


@pytest.fixture
def db(migrated_url: URL) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_store_file_imports_and_round_trips(
    export_set: ExportSet, layout: int, migrated_url: URL, db: Engine, tmp_path: Path, capsys
) -> None:
    source = export_set.store_file(layout)
    count = export_set.stores
    first = run_ffdb(capsys, "import", "stores", source, "--database-url", migrated_url)
    assert first.exit_code == 0, first.stderr
    assert f"{count} inserted, 0 updated, 0 unchanged" in first.stdout

    with db.connect() as connection:
        stores = connection.execute(
            text(
                "SELECT s.store_id, s.store_name, s.store_format, s.region, c.fashion_tier "
                "FROM stores s JOIN store_clusters c USING (cluster_id) ORDER BY s.store_id"
            )
        ).all()
        clusters = connection.execute(
            text("SELECT cluster_id, cluster_name, fashion_tier FROM store_clusters ORDER BY 1")
        ).all()
    original = _rows(source)
    assert len(stores) == count
    assert stores[0].store_id == "S001" and stores[0].store_name == "Store S001"
    for stored, row in zip(stores, original, strict=True):
        assert stored.store_format == row["store_format"].upper().replace(
            "SHOPPINGCENTER", "SHOPPING_CENTER"
        )
        assert stored.region == row["region"].upper()
        assert stored.fashion_tier == row["fashion_tier"].upper()
    assert {tuple(c) for c in clusters} <= {
        ("CL-PREMIUM", "Premium", "PREMIUM"),
        ("CL-MAINSTREAM", "Mainstream", "MAINSTREAM"),
        ("CL-VALUE", "Value", "VALUE"),
    }

    exported = tmp_path / "stores.csv"
    exporting = run_ffdb(
        capsys, "export", "stores", "--output", exported, "--database-url", migrated_url
    )
    assert exporting.exit_code == 0
    back = _rows(exported)
    assert list(back[0])[:13] == list(original[0]) and list(back[0])[13] == "store_name"
    enums = ("location_tier", "fashion_tier", "store_format", "region")
    for row, again in zip(original, back, strict=True):
        for column, value in row.items():
            if column in enums:  # schema spelling: SHOPPING_CENTER for ShoppingCenter
                assert again[column].replace("_", "") == value.upper()
            elif column in ("store_id", "mall_location"):
                assert again[column] == value
            else:  # the same number (924.0 is written 924)
                assert float(again[column]) == float(value)
    before = snapshot(db)
    again = run_ffdb(capsys, "import", "stores", exported, "--database-url", migrated_url)
    assert again.exit_code == 0, again.stderr
    assert f"0 inserted, 0 updated, {count} unchanged" in again.stdout
    assert snapshot(db) == before
    second_export = tmp_path / "stores-again.csv"
    run_ffdb(capsys, "export", "stores", "--output", second_export, "--database-url", migrated_url)
    assert second_export.read_text() == exported.read_text()


def test_every_actuals_week_imports_and_round_trips(
    export_set: ExportSet, migrated_url: URL, db: Engine, tmp_path: Path, capsys
) -> None:
    stores, weeks = export_set.stores, range(1, export_set.weeks + 1)
    run_ffdb(capsys, "import", "stores", export_set.store_file(0), "--database-url", migrated_url)
    exports_season().write(db)
    for week in weeks:
        source = export_set.actuals_week(week)
        result = run_ffdb(
            capsys, "import", "actuals", source, "--forecast-id", FORECAST_ID,
            "--database-url", migrated_url,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert f"{DAYS_PER_WEEK * stores} rows read" in result.stdout
        assert f"{stores} inserted" in result.stdout

    with db.connect() as connection:
        stored = connection.execute(
            text("SELECT store_id, week_number, units_sold FROM actual_sales ORDER BY 2, 1")
        ).all()
    expected: dict[tuple[str, int], int] = {}
    for week in weeks:
        for row in _rows(export_set.actuals_week(week)):
            key = (row["store_id"], week)
            expected[key] = expected.get(key, 0) + int(row["quantity_sold"])
    assert {(r.store_id, r.week_number): r.units_sold for r in stored} == expected
    assert len(stored) == stores * len(weeks)

    exported = tmp_path / "actuals.csv"
    code = run_ffdb(
        capsys, "export", "actual_sales", "--forecast-id", FORECAST_ID, "-o", exported,
        "--database-url", migrated_url,
    ).exit_code  # fmt: skip
    assert code == 0
    assert exported.read_text().splitlines()[0] == "store_id,week_number,units_sold"
    before = snapshot(db)
    again = run_ffdb(
        capsys, "import", "actuals", exported, "--forecast-id", FORECAST_ID,
        "--database-url", migrated_url,
    )  # fmt: skip
    assert f"0 inserted, 0 updated, {stores * len(weeks)} unchanged" in again.stdout
    assert snapshot(db) == before


def test_historical_sales_round_trip(
    export_set: ExportSet, migrated_url: URL, db: Engine, tmp_path: Path, capsys
) -> None:
    """The set's daily rows, given as a daily historical export, summed into weeks."""
    stores = export_set.stores
    run_ffdb(capsys, "import", "stores", export_set.store_file(0), "--database-url", migrated_url)
    daily = tmp_path / "daily.csv"
    with open(daily, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["date", "store_id", "category", "quantity_sold", "revenue"])
        for week in (1, 2):
            for row in _rows(export_set.actuals_week(week)):
                writer.writerow(
                    [row["date"], row["store_id"], "Women's Dresses", row["quantity_sold"], "1.5"]
                )
    season = ("--season-start", "2025-02-17", "--season-weeks", "12")
    result = run_ffdb(
        capsys, "import", "historical-sales", daily, *season, "--database-url", migrated_url
    )
    assert result.exit_code == 0, result.stderr
    assert f"{2 * stores} inserted" in result.stdout
    assert "category womens_dresses" in result.stdout
    with db.connect() as connection:
        category = connection.execute(
            text(
                "SELECT category_name, season_start_date, season_end_date, season_length_weeks "
                "FROM categories"
            )
        ).one()
    assert (
        str(category[1]) == "2025-02-17" and str(category[2]) == "2025-05-11" and category[3] == 12
    )
    assert category[0] == "Women's Dresses"

    exported = tmp_path / "weekly.csv"
    run_ffdb(capsys, "export", "historical_sales", "-o", exported, "--database-url", migrated_url)
    lines = exported.read_text().splitlines()
    assert lines[0] == "week_start_date,store_id,category_id,units_sold"
    assert len(lines) == 2 * stores + 1 and lines[1].startswith("2025-02-17,S001,womens_dresses,")
    before = snapshot(db)
    again = run_ffdb(capsys, "import", "historical-sales", exported, "--database-url", migrated_url)
    assert f"0 inserted, 0 updated, {2 * stores} unchanged" in again.stdout
    assert snapshot(db) == before
    # The daily file again: the same weeks, nothing changes either.
    daily_again = run_ffdb(
        capsys, "import", "historical-sales", daily, "--database-url", migrated_url
    )
    assert f"{2 * stores} unchanged" in daily_again.stdout
    assert snapshot(db) == before


# --- the repository's own set: how it is made, and the formats only it holds -----------------


def test_the_data_files_are_what_generate_py_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA_DIR / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    generated = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.csv")}
    # data/meanings/ and data/hostile/ hold hand-written cases (see their READMEs), not
    # generated exports.
    committed = {
        p.relative_to(DATA_DIR): p.read_bytes()
        for p in DATA_DIR.rglob("*.csv")
        if p.relative_to(DATA_DIR).parts[0] not in ("meanings", "hostile")
    }
    assert sorted(generated) == sorted(committed)
    assert generated == committed, "run `python backend/tests/data/generate.py` and commit"


def test_both_store_layouts_hold_every_retailer_spelling() -> None:
    for layout in LAYOUTS.values():
        rows = _rows(REPO_EXPORTS.store_file(layout))
        assert [row["store_id"] for row in rows] == [
            f"S{n:03d}" for n in range(1, REPO_EXPORTS.stores + 1)
        ]
        assert {row["store_format"] for row in rows} == {
            "Mall",
            "ShoppingCenter",
            "Standalone",
            "Outlet",
        }
        assert {row["region"] for row in rows} == {"Northeast", "Southeast", "Midwest", "West"}
        assert {row["fashion_tier"] for row in rows} == {"Premium", "Mainstream", "Value"}
        assert {row["location_tier"] for row in rows} == {"A", "B", "C"}
        assert {row["mall_location"] for row in rows} == {"True", "False"}
    whole, decimals = (_rows(REPO_EXPORTS.store_file(layout)) for layout in LAYOUTS.values())
    assert all(row["avg_weekly_sales_12mo"].isdigit() for row in whole)
    assert all("." in row["avg_weekly_sales_12mo"] for row in decimals)


def test_weekly_actuals_file_holds_the_daily_weeks_summed(
    migrated_url: URL, db: Engine, capsys
) -> None:
    slots = REPO_EXPORTS.stores * REPO_EXPORTS.weeks
    run_ffdb(capsys, "import", "stores", REPO_EXPORTS.store_file(0), "--database-url", migrated_url)
    exports_season().write(db)
    weekly = run_ffdb(
        capsys, "import", "actuals", WEEKLY_ACTUALS, "--forecast-id", FORECAST_ID,
        "--database-url", migrated_url,
    )  # fmt: skip
    assert weekly.exit_code == 0, weekly.stderr
    assert f"{slots} inserted, 0 updated, 0 unchanged" in weekly.stdout
    before = snapshot(db)
    for week in range(1, REPO_EXPORTS.weeks + 1):
        daily = run_ffdb(
            capsys, "import", "actuals", REPO_EXPORTS.actuals_week(week),
            "--forecast-id", FORECAST_ID, "--database-url", migrated_url,
        )  # fmt: skip
        assert daily.exit_code == 0, daily.stderr
        assert f"0 inserted, 0 updated, {REPO_EXPORTS.stores} unchanged" in daily.stdout
    assert snapshot(db) == before


def test_daily_and_weekly_history_files_hold_the_same_weeks(
    migrated_url: URL, db: Engine, tmp_path: Path, capsys
) -> None:
    """The daily export creates its category by name; the weekly one then changes nothing,
    and ``ffdb export`` writes the weekly file back byte for byte."""
    run_ffdb(capsys, "import", "stores", REPO_EXPORTS.store_file(0), "--database-url", migrated_url)
    weekly_rows = _rows(WEEKLY_HISTORY)
    season = ("--season-start", SEASON_START.isoformat(), "--season-weeks", str(SEASON_WEEKS))
    daily = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        DAILY_HISTORY,
        *season,
        "--database-url",
        migrated_url,
    )
    assert daily.exit_code == 0, daily.stderr
    assert f"{len(weekly_rows)} inserted" in daily.stdout
    assert f"category {CATEGORY_ID}" in daily.stdout
    with db.connect() as connection:
        names = connection.execute(text("SELECT category_id, category_name FROM categories"))
        assert names.all() == [(CATEGORY_ID, CATEGORY_NAME)]
    before = snapshot(db)
    weekly = run_ffdb(
        capsys, "import", "historical-sales", WEEKLY_HISTORY, "--database-url", migrated_url
    )
    assert weekly.exit_code == 0, weekly.stderr
    assert f"0 inserted, 0 updated, {len(weekly_rows)} unchanged" in weekly.stdout
    assert snapshot(db) == before
    exported = tmp_path / "history.csv"
    run_ffdb(capsys, "export", "historical_sales", "-o", exported, "--database-url", migrated_url)
    assert exported.read_text() == WEEKLY_HISTORY.read_text()
