"""Weekly history in any calendar, and no invented seasons: importer, write API and doctor
apply one rule, on SQLite and PostgreSQL.

The rule: weekly rows may start on any weekday, the same one throughout a file (or one
write-API call); a (store, category) series keeps the weekday its stored weeks start on;
daily rows are summed into weeks starting on ``--week-starts`` (default: the stored
history's weekday, else Monday). A category the database lacks is created only with the
season the user gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.domain import records
from backend.app.domain.records import HistoricalSalesRow
from backend.app.maintenance.definitions import (
    Weekday,
    category_id_from_name,
    historical_sale_id,
    weekday_of,
)
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import write_file as write
from backend.tests.support.meanings import MEANINGS_DIR, add_categories, twelve_store_database
from backend.tests.support.snapshot import snapshot

DATA = MEANINGS_DIR
WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
DAILY = "date,store_id,category,quantity_sold\n"
SEASON_OPTIONS = "--season-start YYYY-MM-DD --season-weeks N"


@pytest.fixture
def db(migrated_url: URL, capsys: pytest.CaptureFixture[str]) -> Iterator[Engine]:
    """Twelve stores and the categories womens_dresses and mens_outerwear."""
    engine = twelve_store_database(
        migrated_url,
        capsys,
        {"womens_dresses": "Women's Dresses", "mens_outerwear": "Men's Outerwear"},
    )
    yield engine
    engine.dispose()


def _history(engine: Engine) -> dict[tuple[str, str, date], tuple[str, int]]:
    """(store, category, week) -> (sale_id, units) of every stored history row."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT store_id, category_id, week_start_date, sale_id, units_sold "
                "FROM historical_sales"
            )
        ).all()
    return {
        (store, category, day if isinstance(day, date) else date.fromisoformat(day)): (
            sale_id,
            units,
        )
        for store, category, day, sale_id, units in rows
    }


def _weekly(*rows: tuple[date, str, str, int]) -> str:
    return WEEKLY + "".join(
        f"{day},{store},{category},{units}\n" for day, store, category, units in rows
    )


def _load_nrf_history(capsys: pytest.CaptureFixture[str], url: URL) -> None:
    """Sunday-start weeks for S001..S012, womens_dresses, from 2024-02-04."""
    outcome = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        str(DATA / "nrf_sunday_weeks.csv"),
        "--database-url",
        url,
    )
    assert outcome.exit_code == 0, outcome.stderr


# --- weekly files -------------------------------------------------------------------------


def test_a_sunday_start_nrf_export_imports_as_it_is(
    db: Engine, migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    source = DATA / "nrf_sunday_weeks.csv"
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(source), "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "240 inserted, 0 updated, 0 unchanged" in outcome.stdout
    stored = _history(db)
    assert len(stored) == 240
    assert {weekday_of(week) for _, _, week in stored} == {Weekday.SUNDAY}
    # Ids are the natural key's, the same the write API gives.
    assert all(sale_id == historical_sale_id(*key) for key, (sale_id, _) in stored.items())
    before = snapshot(db)
    again = run_ffdb(
        capsys, "import", "historical-sales", str(source), "--database-url", migrated_url
    )
    assert "0 inserted, 0 updated, 240 unchanged" in again.stdout
    assert snapshot(db) == before


def test_saturday_weeks_import_too(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saturdays = [date(2025, 3, 1) + timedelta(weeks=n) for n in range(3)]
    file = write(
        tmp_path / "sat.csv", _weekly(*((d, "S001", "womens_dresses", 5) for d in saturdays))
    )
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert sorted(week for _, _, week in _history(db)) == saturdays


def test_a_file_mixing_weekdays_is_refused_naming_every_other_line(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(
        tmp_path / "mixed.csv",
        _weekly(
            (date(2024, 2, 4), "S001", "womens_dresses", 5),  # Sunday: the file's weekday
            (date(2024, 2, 11), "S001", "womens_dresses", 6),
            (date(2024, 2, 12), "S002", "womens_dresses", 7),  # Monday
            (date(2024, 2, 18), "S002", "womens_dresses", 8),
            (date(2024, 2, 24), "S003", "womens_dresses", 9),  # Saturday
        ),
    )
    before = snapshot(db)
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines()[:2] == [
        f"{file}:4: week_start_date: a week starting on Monday, but line 2 (2024-02-04) starts "
        "this file's weeks on Sunday: a file's weeks all start on one day ('2024-02-12')",
        f"{file}:6: week_start_date: a week starting on Saturday, but line 2 (2024-02-04) "
        "starts this file's weeks on Sunday: a file's weeks all start on one day ('2024-02-24')",
    ]
    assert "2 problems; nothing was imported" in outcome.stderr
    assert snapshot(db) == before


def test_week_starts_given_for_a_weekly_file_is_the_day_its_rows_must_start_on(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "sun.csv", _weekly((date(2024, 2, 4), "S001", "womens_dresses", 5)))
    args = ("import", "historical-sales", str(file), "--week-starts")
    outcome = run_ffdb(capsys, *args, "monday", "--database-url", migrated_url)
    assert outcome.exit_code != 0
    assert (
        f"{file}:2: week_start_date: a week starting on Sunday, but --week-starts is monday"
    ) in outcome.stderr
    assert run_ffdb(capsys, *args, "sunday", "--database-url", migrated_url).exit_code == 0
    assert run_ffdb(capsys, *args, "someday", "--database-url", migrated_url).exit_code != 0


def test_a_series_keeps_the_weekday_of_its_stored_weeks(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_nrf_history(capsys, migrated_url)
    before = snapshot(db)
    monday = date(2024, 6, 24)
    clash = write(
        tmp_path / "monday.csv",
        _weekly((monday, "S001", "mens_outerwear", 1), (monday, "S002", "womens_dresses", 2)),
    )
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(clash), "--database-url", migrated_url
    )
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines()[0] == (
        f"{clash}:3: week_start_date: store S002 category womens_dresses has weeks starting on "
        "Sunday (from 2024-02-04), this file's start on Monday: a series keeps one weekday"
    )
    assert snapshot(db) == before
    # Another series may run Monday weeks.
    fine = write(tmp_path / "fine.csv", _weekly((monday, "S001", "mens_outerwear", 1)))
    assert (
        run_ffdb(
            capsys, "import", "historical-sales", str(fine), "--database-url", migrated_url
        ).exit_code
        == 0
    )
    # With stored weeks on two weekdays, each series is asked on its own: the Monday one
    # refuses Sunday weeks, the Sunday ones take them.
    sunday = monday + timedelta(days=6)
    mixed = write(
        tmp_path / "sunday.csv",
        _weekly((sunday, "S002", "womens_dresses", 3), (sunday, "S001", "mens_outerwear", 4)),
    )
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(mixed), "--database-url", migrated_url
    )
    assert outcome.stderr.splitlines()[0] == (
        f"{mixed}:3: week_start_date: store S001 category mens_outerwear has weeks starting on "
        "Monday (from 2024-06-24), this file's start on Sunday: a series keeps one weekday"
    )
    again = write(tmp_path / "again.csv", _weekly((sunday, "S002", "womens_dresses", 3)))
    assert (
        run_ffdb(
            capsys, "import", "historical-sales", str(again), "--database-url", migrated_url
        ).exit_code
        == 0
    )


# --- daily files --------------------------------------------------------------------------


def _daily(first: date, days: int, stores: tuple[str, ...], category: str) -> str:
    return DAILY + "".join(
        f"{first + timedelta(days=n)},{store},{category},{n + 1}\n"
        for n in range(days)
        for store in stores
    )


def test_daily_rows_are_summed_into_weeks_that_start_on_the_given_day(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Wednesday 2024-03-06 .. Tuesday 2024-03-19: 14 days, units 1..14 per store.
    file = write(
        tmp_path / "daily.csv", _daily(date(2024, 3, 6), 14, ("S001", "S002"), "Women's Dresses")
    )
    args = ("import", "historical-sales", str(file), "--week-starts", "sunday")
    outcome = run_ffdb(capsys, *args, "--database-url", migrated_url)
    assert outcome.exit_code == 0, outcome.stderr
    units = {(store, week): value for (store, _, week), (_, value) in _history(db).items()}
    # Sunday weeks: 03-03 holds Wed..Sat (1..4), 03-10 the next 7 (5..11), 03-17 Sun..Tue.
    assert units == {
        (store, week): total
        for store in ("S001", "S002")
        for week, total in (
            (date(2024, 3, 3), 1 + 2 + 3 + 4),
            (date(2024, 3, 10), sum(range(5, 12))),
            (date(2024, 3, 17), 12 + 13 + 14),
        )
    }


def test_daily_weeks_default_to_the_stored_weekday_else_monday(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path / "a.csv", _daily(date(2024, 3, 6), 3, ("S001",), "Women's Dresses"))
    assert (
        run_ffdb(
            capsys, "import", "historical-sales", str(first), "--database-url", migrated_url
        ).exit_code
        == 0
    )
    assert {week for _, _, week in _history(db)} == {date(2024, 3, 4)}  # a Monday
    with db.begin() as connection:
        connection.execute(text("DELETE FROM historical_sales"))
    _load_nrf_history(capsys, migrated_url)
    second = write(tmp_path / "b.csv", _daily(date(2024, 7, 3), 3, ("S001",), "Men's Outerwear"))
    assert (
        run_ffdb(
            capsys, "import", "historical-sales", str(second), "--database-url", migrated_url
        ).exit_code
        == 0
    )
    outerwear = [week for _, category, week in _history(db) if category == "mens_outerwear"]
    assert outerwear == [date(2024, 6, 30)]  # the Sunday the stored history uses


def test_a_daily_file_for_a_series_on_another_weekday_is_refused_with_the_option_named(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_nrf_history(capsys, migrated_url)
    file = write(tmp_path / "d.csv", _daily(date(2024, 7, 3), 3, ("S001",), "Women's Dresses"))
    outcome = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        str(file),
        "--week-starts",
        "monday",
        "--database-url",
        migrated_url,
    )
    assert outcome.exit_code != 0
    assert (
        "has weeks starting on Sunday (from 2024-02-04), this file's start on Monday "
        in outcome.stderr
    )
    assert "(choose the day with --week-starts)" in outcome.stderr


# --- no invented seasons ------------------------------------------------------------------


def test_history_of_unknown_categories_needs_their_season(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ä-Wear and Ü-Wear are two categories (their ids keep their letters), created only
    with the season the user gives."""
    file = write(
        tmp_path / "daily.csv",
        DAILY
        + "".join(
            f"2024-03-{day:02d},S001,{name},{day}\n"
            for day in (4, 5, 6)
            for name in ("Ä-Wear", "Ü-Wear", "Women's Dresses")
        ),
    )
    before = snapshot(db)
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code != 0
    assert outcome.stderr.splitlines()[:2] == [
        f"{file}:2: category: unknown category (its id would be 'ä_wear'): give its season with "
        f"{SEASON_OPTIONS} to create the new categories ('Ä-Wear')",
        f"{file}:3: category: unknown category (its id would be 'ü_wear'): give its season with "
        f"{SEASON_OPTIONS} to create the new categories ('Ü-Wear')",
    ]
    assert snapshot(db) == before

    season = ("--season-start", "2025-03-01", "--season-weeks", "12")
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), *season, "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "category ä_wear ('Ä-Wear', 12 weeks from 2025-03-01)" in outcome.stdout
    with db.connect() as connection:
        categories = connection.execute(
            text(
                "SELECT category_id, category_name, season_start_date, season_end_date, "
                "season_length_weeks FROM categories WHERE category_id IN ('ä_wear', 'ü_wear') "
                "ORDER BY category_id"
            )
        ).all()
    assert [(c[0], c[1], str(c[2]), str(c[3]), c[4]) for c in categories] == [
        ("ä_wear", "Ä-Wear", "2025-03-01", "2025-05-23", 12),
        ("ü_wear", "Ü-Wear", "2025-03-01", "2025-05-23", 12),
    ]
    per_category = {}
    for (_, category, _), (_, units) in _history(db).items():
        per_category[category] = per_category.get(category, 0) + units
    assert per_category == {"ä_wear": 15, "ü_wear": 15, "womens_dresses": 15}


# (category id, one name, the same name in another Unicode form): case folding ('ß' is
# 'ss'), NFKC (fullwidth letters), NFKC again (a decomposed 'é').
ALIKE = (
    ("CAT-STR", "Straße", "STRASSE"),
    ("CAT-TOPS", "\uff34\uff2f\uff30\uff33", "Tops"),
    ("CAT-CAFE", "Cafe\u0301", "Caf\u00e9"),
)


@pytest.mark.parametrize("stored_first", [True, False], ids=["stored-form", "file-form"])
def test_a_daily_file_finds_a_category_by_the_definitions_idea_of_the_same_name(
    db: Engine,
    migrated_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stored_first: bool,
) -> None:
    """Stored categories whose ids are not made from their names, named in another
    Unicode form in the file (either form stored, the other in the file): each is the
    stored category, as ``category_id_from_name`` says the two names are one; none is
    taken for a new category."""
    stored = {key: (one if stored_first else other) for key, one, other in ALIKE}
    in_file = {key: (other if stored_first else one) for key, one, other in ALIKE}
    for category_id, name in stored.items():
        assert category_id_from_name(name) == category_id_from_name(in_file[category_id])
        assert name.strip().lower() != in_file[category_id].strip().lower()
    add_categories(db, stored)
    before = {table: rows for table, rows in snapshot(db).items() if table == "categories"}
    file = write(
        tmp_path / "daily.csv",
        DAILY
        + "".join(f"2024-03-04,S001,{name},{n}\n" for n, name in enumerate(in_file.values(), 1)),
    )
    # No season given: a name taken for a new category would be refused.
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert {category: units for (_, category, _), (_, units) in _history(db).items()} == {
        "CAT-STR": 1,
        "CAT-TOPS": 2,
        "CAT-CAFE": 3,
    }
    assert {table: rows for table, rows in snapshot(db).items() if table == "categories"} == before


def test_unknown_category_ids_of_a_weekly_file_need_their_season_too(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "w.csv", _weekly((date(2024, 2, 5), "S001", "kids_shoes", 5)))
    outcome = run_ffdb(
        capsys, "import", "historical-sales", str(file), "--database-url", migrated_url
    )
    assert outcome.exit_code != 0
    assert f"unknown category (to create new categories give their season: {SEASON_OPTIONS})" in (
        outcome.stderr
    )
    outcome = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        str(file),
        "--season-start",
        "2025-02-17",
        "--season-weeks",
        "4",
        "--database-url",
        migrated_url,
    )
    assert outcome.exit_code == 0, outcome.stderr
    assert "created category kids_shoes ('kids_shoes', 4 weeks from 2025-02-17)" in outcome.stdout


def test_the_season_options_go_together(
    db: Engine, migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "w.csv", _weekly((date(2024, 2, 5), "S001", "womens_dresses", 5)))
    outcome = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        str(file),
        "--season-start",
        "2025-03-01",
        "--database-url",
        migrated_url,
    )
    assert outcome.exit_code != 0
    assert "give --season-start and --season-weeks together" in outcome.stderr


# --- the write API and doctor apply the same rule -----------------------------------------


def test_the_write_api_upserts_history_under_the_importers_ids_and_rule(
    db: Engine, migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_nrf_history(capsys, migrated_url)
    sunday = date(2024, 2, 4)
    with Session(db) as session:
        # A week the importer loaded: updated in place, same id (no IntegrityError).
        written = records.record_historical_sales(
            session,
            [
                HistoricalSalesRow("S001", "womens_dresses", sunday, 999),
                HistoricalSalesRow("S001", "womens_dresses", sunday + timedelta(weeks=20), 1),
            ],
        )
        session.commit()
    assert written == 2
    stored = _history(db)
    assert stored[("S001", "womens_dresses", sunday)] == (
        historical_sale_id("S001", "womens_dresses", sunday),
        999,
    )
    assert len(stored) == 241
    with Session(db) as session:
        with pytest.raises(ValueError, match=r"one call's weeks all start on one day"):
            records.record_historical_sales(
                session,
                [
                    HistoricalSalesRow("S001", "mens_outerwear", date(2024, 2, 5), 1),
                    HistoricalSalesRow("S002", "mens_outerwear", date(2024, 2, 6), 1),
                ],
            )
        with pytest.raises(
            ValueError,
            match=r"S003/womens_dresses: its stored weeks start on Sunday \(from 2024-02-04\), "
            r"these on Monday: a \(store, category\) series keeps one weekday",
        ):
            records.record_historical_sales(
                session, [HistoricalSalesRow("S003", "womens_dresses", date(2024, 2, 5), 1)]
            )
        session.rollback()
    assert len(_history(db)) == 241


def test_doctor_reports_a_series_whose_weeks_start_on_two_weekdays(
    db: Engine, migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_nrf_history(capsys, migrated_url)
    assert run_ffdb(capsys, "doctor", "--json", "--database-url", migrated_url).exit_code == 0
    with db.begin() as connection:  # what a client writing SQL around ffdb could do
        connection.execute(
            text(
                "INSERT INTO historical_sales (sale_id, store_id, category_id, week_start_date, "
                "units_sold) VALUES ('raw', 'S005', 'womens_dresses', :day, 3)"
            ),
            {"day": date(2024, 7, 2)},
        )
    outcome = run_ffdb(capsys, "doctor", "--json", "--database-url", migrated_url)
    assert outcome.exit_code != 0
    problems = json.loads(outcome.stdout)
    assert [p for p in problems if p["check"] == "history_week_calendar"] == [
        {
            "check": "history_week_calendar",
            "table": "historical_sales",
            "key": "store S005 category womens_dresses",
            "detail": "weeks start on Sunday (20 week(s) from 2024-02-04) and Tuesday "
            "(1 week(s) from 2024-07-02): a series' weeks all start on one weekday",
        }
    ]
