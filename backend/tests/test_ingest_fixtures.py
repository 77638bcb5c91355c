"""Every retailer fixture imports unchanged and round-trips through ``ffdb export``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.tests.ingest_support import (
    FIXTURES,
    FORECAST_ID,
    ffdb,
    seed_season,
    snapshot,
)

STORE_FILES = ["store_attributes.csv", "realistic_stores_dataset1.csv"]
WEEKS = range(1, 13)


@pytest.fixture
def db(migrated_url: URL) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", STORE_FILES)
def test_store_file_imports_and_round_trips(
    name: str, migrated_url: URL, db: Engine, shared_dir: Path, tmp_path: Path, capsys
) -> None:
    source = shared_dir / FIXTURES / name
    first = ffdb(capsys, migrated_url, "import", "stores", str(source))
    assert first.code == 0, first.err
    assert "50 inserted, 0 updated, 0 unchanged" in first.out

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
    assert len(stores) == 50
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
    assert ffdb(capsys, migrated_url, "export", "stores", "--output", str(exported)).code == 0
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
    again = ffdb(capsys, migrated_url, "import", "stores", str(exported))
    assert again.code == 0, again.err
    assert "0 inserted, 0 updated, 50 unchanged" in again.out
    assert snapshot(db) == before
    second_export = tmp_path / "stores-again.csv"
    ffdb(capsys, migrated_url, "export", "stores", "--output", str(second_export))
    assert second_export.read_text() == exported.read_text()


def test_every_actuals_week_imports_and_round_trips(
    migrated_url: URL, db: Engine, shared_dir: Path, tmp_path: Path, capsys
) -> None:
    ffdb(capsys, migrated_url, "import", "stores", str(shared_dir / FIXTURES / STORE_FILES[0]))
    seed_season(db)
    for week in WEEKS:
        source = shared_dir / FIXTURES / "normal_season" / f"actuals_week_{week:02d}.csv"
        result = ffdb(
            capsys, migrated_url, "import", "actuals", str(source), "--forecast-id", FORECAST_ID
        )
        assert result.code == 0, result.err
        assert "350 rows read" in result.out and "50 inserted" in result.out

    with db.connect() as connection:
        stored = connection.execute(
            text("SELECT store_id, week_number, units_sold FROM actual_sales ORDER BY 2, 1")
        ).all()
    expected: dict[tuple[str, int], int] = {}
    for week in WEEKS:
        for row in _rows(shared_dir / FIXTURES / "normal_season" / f"actuals_week_{week:02d}.csv"):
            key = (row["store_id"], week)
            expected[key] = expected.get(key, 0) + int(row["quantity_sold"])
    assert {(r.store_id, r.week_number): r.units_sold for r in stored} == expected
    assert len(stored) == 600

    exported = tmp_path / "actuals.csv"
    code = ffdb(
        capsys,
        migrated_url,
        "export",
        "actual_sales",
        "--forecast-id",
        FORECAST_ID,
        "-o",
        str(exported),
    ).code
    assert code == 0
    assert exported.read_text().splitlines()[0] == "store_id,week_number,units_sold"
    before = snapshot(db)
    again = ffdb(
        capsys, migrated_url, "import", "actuals", str(exported), "--forecast-id", FORECAST_ID
    )
    assert "0 inserted, 0 updated, 600 unchanged" in again.out
    assert snapshot(db) == before


def test_historical_sales_round_trip(
    migrated_url: URL, db: Engine, shared_dir: Path, tmp_path: Path, capsys
) -> None:
    """The fixture's daily rows, given as a daily historical export, summed into weeks."""
    ffdb(capsys, migrated_url, "import", "stores", str(shared_dir / FIXTURES / STORE_FILES[0]))
    daily = tmp_path / "daily.csv"
    with open(daily, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["date", "store_id", "category", "quantity_sold", "revenue"])
        for week in (1, 2):
            for row in _rows(
                shared_dir / FIXTURES / "normal_season" / f"actuals_week_{week:02d}.csv"
            ):
                writer.writerow(
                    [row["date"], row["store_id"], "Women's Dresses", row["quantity_sold"], "1.5"]
                )
    season = ("--season-start", "2025-02-17", "--season-weeks", "12")
    result = ffdb(capsys, migrated_url, "import", "historical-sales", str(daily), *season)
    assert result.code == 0, result.err
    assert "100 inserted" in result.out and "category womens_dresses" in result.out
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
    ffdb(capsys, migrated_url, "export", "historical_sales", "-o", str(exported))
    lines = exported.read_text().splitlines()
    assert lines[0] == "week_start_date,store_id,category_id,units_sold"
    assert len(lines) == 101 and lines[1].startswith("2025-02-17,S001,womens_dresses,")
    before = snapshot(db)
    again = ffdb(capsys, migrated_url, "import", "historical-sales", str(exported))
    assert "0 inserted, 0 updated, 100 unchanged" in again.out
    assert snapshot(db) == before
    # The daily file again: the same weeks, nothing changes either.
    assert (
        "100 unchanged" in ffdb(capsys, migrated_url, "import", "historical-sales", str(daily)).out
    )
    assert snapshot(db) == before
