"""Bad input: every problem as ``FILE:LINE: column: what is wrong (value)``, a non-zero
exit, and the database exactly as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import CATEGORY_ID, FORECAST_ID, REPO_EXPORTS, write_file
from backend.tests.support.samples import exports_season
from backend.tests.support.snapshot import snapshot

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
# A valid row that would update a stored one: proves the transaction rolled back.
GOOD = f"2025-02-17,S001,{CATEGORY_ID},999\n"
STORE_HEADER = (
    "store_id,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,"
    "store_format,region,foot_traffic,competitor_density,online_penetration,population_density,"
    "mall_location\n"
)
STORE_ROW = "S001,900,12500,142000,A,Premium,{format},Southeast,2800,6.2,0.48,14500,{mall}\n"
DAILY_ACTUALS = "date,store_id,quantity_sold\n"


@dataclass(frozen=True)
class Case:
    command: tuple[str, ...]
    content: str | bytes
    expected: tuple[str, ...]  # each "LINE: column: message (value)" after the path


HISTORICAL = ("import", "historical-sales")
ACTUALS = ("import", "actuals", "--forecast-id", FORECAST_ID)
STORES = ("import", "stores")

CASES = {
    "missing column": Case(
        HISTORICAL,
        "week_start_date,store_id,category_id\n2025-02-17,S001,womens_dresses\n",
        (
            "1: units_sold: missing column (a weekly historical-sales file has "
            "week_start_date,store_id,category_id,units_sold)",
        ),
    ),
    "extra column": Case(
        HISTORICAL,
        WEEKLY.strip() + ",notes\n" + GOOD.strip() + ",x\n",
        ("1: notes: unexpected column",),
    ),
    "empty file": Case(HISTORICAL, "", ("1: header: empty file: no header line",)),
    "header only": Case(HISTORICAL, WEEKLY, ("1: header: header only: the file has no data rows",)),
    "wrong delimiter": Case(
        HISTORICAL,
        WEEKLY.replace(",", ";") + GOOD.replace(",", ";"),
        ("1: header: wrong delimiter ';', expected ','",),
    ),
    "non-UTF-8 bytes": Case(
        HISTORICAL,
        (WEEKLY + GOOD).encode() + b"2025-02-24,S\xe9002,womens_dresses,5\n",
        ("3: store_id: bytes that are not UTF-8 (b'\\xe9') ('S\\\\xe9002')",),
    ),
    "unknown store": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S999,womens_dresses,5\n",
        ("3: store_id: unknown store ('S999')",),
    ),
    "NUL character": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S0\x0001,womens_dresses,5\n",
        ("3: store_id: contains a NUL character ('S0\\\\001')",),
    ),
    "units beyond the INTEGER column": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S001,womens_dresses,2147483648\n",
        ("3: units_sold: too large, expected at most 2147483647 ('2147483648')",),
    ),
    "unknown category": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S002,mens_shoes,5\n",
        (
            "3: category_id: unknown category (to create new categories give their season: "
            "--season-start YYYY-MM-DD --season-weeks N) ('mens_shoes')",
        ),
    ),
    "unknown enum spelling": Case(
        STORES,
        STORE_HEADER
        + STORE_ROW.format(format="Mall", mall="True").replace("900", "950")
        + STORE_ROW.format(format="Kiosk", mall="True").replace("S001", "S002"),
        (
            "3: store_format: unknown store_format, expected one of MALL, STANDALONE, "
            "SHOPPING_CENTER, OUTLET ('Kiosk')",
        ),
    ),
    "negative units": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S002,womens_dresses,-5\n",
        ("3: units_sold: negative units, expected 0 or more ('-5')",),
    ),
    "fractional units": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S002,womens_dresses,2.5\n",
        ("3: units_sold: fractional value, expected a whole number ('2.5')",),
    ),
    "fractional value for an integer column": Case(
        STORES,
        STORE_HEADER + STORE_ROW.format(format="Mall", mall="True").replace("12500", "12500.5"),
        ("2: store_size_sqft: fractional value, expected a whole number ('12500.5')",),
    ),
    "impossible date": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-30,S002,womens_dresses,5\n",
        ("3: week_start_date: impossible date ('2025-02-30')",),
    ),
    "two weeks in a one-week actuals file": Case(
        ACTUALS,
        DAILY_ACTUALS + "2025-02-17,S001,30\n2025-02-24,S002,40\n2025-02-18,S003,50\n",
        (
            "3: date: in season week 2 (2025-02-24..2025-03-02), but line 2 (2025-02-17) is in "
            "season week 1 (2025-02-17..2025-02-23): an actuals file holds one week ('2025-02-24')",
        ),
    ),
    "duplicate keys": Case(
        HISTORICAL,
        WEEKLY + GOOD + f"2025-02-17,S001,{CATEGORY_ID},5\n",
        (
            "3: row: duplicate store, category and week, first on line 2 "
            "('S001 womens_dresses 2025-02-17')",
        ),
    ),
    # Without GOOD no key of the file is stored yet: the plain-INSERT path, whose
    # refusal by the database is turned into the same line-numbered problems.
    "duplicate keys on a first import": Case(
        HISTORICAL,
        WEEKLY + "2025-03-03,S002,womens_dresses,5\n" * 2,
        (
            "3: row: duplicate store, category and week, first on line 2 "
            "('S002 womens_dresses 2025-03-03')",
        ),
    ),
    "unknown store on a first import": Case(
        HISTORICAL,
        WEEKLY + "2025-03-03,S002,womens_dresses,5\n2025-03-03,S404,womens_dresses,5\n",
        ("3: store_id: unknown store ('S404')",),
    ),
    "duplicate store in a store file": Case(
        STORES,
        STORE_HEADER + STORE_ROW.format(format="Mall", mall="True") * 2,
        ("3: store_id: duplicate store, first on line 2 ('S001')",),
    ),
    "a file of another kind": Case(
        HISTORICAL,
        STORE_HEADER + STORE_ROW.format(format="Mall", mall="True"),
        ("1: header: this is a store-attributes file: import it with `ffdb import stores`",),
    ),
    "actuals given to historical-sales": Case(
        HISTORICAL,
        DAILY_ACTUALS + "2025-02-17,S001,30\n",
        (
            "1: header: this is a daily actuals file: import it with `ffdb import actuals` "
            "('date,store_id,quantity_sold')",
        ),
    ),
    "several problems at once": Case(
        HISTORICAL,
        WEEKLY + GOOD + "2025-02-24,S999,womens_dresses,x\n" + "2025-02-25,S002,womens_dresses,1\n",
        (
            "3: store_id: unknown store ('S999')",
            "3: units_sold: not a number, expected a whole number ('x')",
            "4: week_start_date: a week starting on Tuesday, but line 2 (2025-02-17) starts this "
            "file's weeks on Monday: a file's weeks all start on one day ('2025-02-25')",
        ),
    ),
}


@pytest.fixture
def seeded(migrated_url: URL, tmp_path: Path, capsys) -> Iterator[Engine]:
    """Stores, a season, a forecast, a week of actuals and some history already loaded."""
    engine = make_engine(migrated_url)
    stores = REPO_EXPORTS.store_file(0)
    assert (
        run_ffdb(capsys, "import", "stores", str(stores), "--database-url", migrated_url).exit_code
        == 0
    )
    exports_season().write(engine)
    week_1 = REPO_EXPORTS.actuals_week(1)
    assert run_ffdb(capsys, *ACTUALS, str(week_1), "--database-url", migrated_url).exit_code == 0
    history = write_file(tmp_path / "history.csv", WEEKLY + f"2025-02-17,S001,{CATEGORY_ID},10\n")
    assert (
        run_ffdb(capsys, *HISTORICAL, str(history), "--database-url", migrated_url).exit_code == 0
    )
    yield engine
    engine.dispose()


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_reported_and_changes_nothing(
    case: str, seeded: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    spec = CASES[case]
    bad = write_file(tmp_path / "bad.csv", spec.content)
    before = snapshot(seeded)
    outcome = run_ffdb(capsys, *spec.command, str(bad), "--database-url", migrated_url)
    assert outcome.exit_code != 0
    reported = outcome.stderr.splitlines()
    for expected in spec.expected:
        assert any(line.startswith(f"{bad}:{expected}") for line in reported), outcome.stderr
    assert "nothing was imported" in outcome.stderr
    assert snapshot(seeded) == before


def test_problems_are_listed_up_to_the_limit(
    seeded: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    # Rows of known stores only, each with one problem.
    rows = "".join(
        f"2025-03-{day:02d},S{n:03d},womens_dresses,-1\n"
        for day in (3, 10, 17)
        for n in range(1, REPO_EXPORTS.stores + 1)
    )
    bad = write_file(tmp_path / "bad.csv", WEEKLY + GOOD + rows)
    before = snapshot(seeded)
    outcome = run_ffdb(
        capsys, *HISTORICAL, str(bad), "--max-problems", "5", "--database-url", migrated_url
    )
    lines = outcome.stderr.splitlines()
    assert outcome.exit_code != 0
    assert lines[:5] == [
        f"{bad}:{line}: units_sold: negative units, expected 0 or more ('-1')"
        for line in range(3, 8)
    ]
    assert lines[5] == f"... and {3 * REPO_EXPORTS.stores - 5} more"
    assert snapshot(seeded) == before


def test_unknown_forecast_is_refused(
    seeded: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    good = write_file(tmp_path / "week.csv", DAILY_ACTUALS + "2025-02-17,S001,30\n")
    before = snapshot(seeded)
    outcome = run_ffdb(
        capsys,
        "import",
        "actuals",
        str(good),
        "--forecast-id",
        "nope",
        "--database-url",
        migrated_url,
    )
    assert outcome.exit_code != 0 and "no such forecast" in outcome.stderr
    assert snapshot(seeded) == before


def test_a_byte_order_mark_is_not_an_error(
    seeded: Engine, migrated_url: URL, tmp_path: Path, capsys
) -> None:
    bom = write_file(tmp_path / "excel.csv", b"\xef\xbb\xbf" + (WEEKLY + GOOD).encode())
    outcome = run_ffdb(capsys, *HISTORICAL, str(bom), "--database-url", migrated_url)
    assert outcome.exit_code == 0, outcome.stderr
    assert "0 inserted, 1 updated, 0 unchanged" in outcome.stdout
    stores = write_file(
        tmp_path / "stores.csv",
        b"\xef\xbb\xbf" + (STORE_HEADER + STORE_ROW.format(format="Outlet", mall="False")).encode(),
    )
    outcome = run_ffdb(capsys, *STORES, str(stores), "--database-url", migrated_url)
    assert outcome.exit_code == 0, outcome.stderr
    assert "1 updated" in outcome.stdout
