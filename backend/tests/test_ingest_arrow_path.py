"""The Arrow path of weekly imports (``ingest/columns.py``) stores exactly what the
row-by-row path stores, and leaves every file it does not find plain to that path, on
SQLite and PostgreSQL.

Each case imports one file into two fresh databases: once as ``ffdb import`` does (the
Arrow path when the file is plain), once with the Arrow path switched off; the results,
the stored rows and the problems must be the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from backend.app.database.db import make_engine
from backend.app.ingest import columns
from backend.app.ingest.actuals import import_actuals
from backend.app.ingest.historical_sales import import_historical_sales
from backend.app.ingest.problems import ImportRejected
from backend.app.maintenance.definitions import actual_sales_id
from backend.tests.support.databases import HEAD, DatabaseCache
from backend.tests.support.exports import write_file
from backend.tests.support.foreign_keys import history_foreign_keys, table_held, watch_set_aside
from backend.tests.support.samples import import_parents

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
ACTUALS = "store_id,week_number,units_sold\n"
FORECAST = "F_ARROW"


@pytest.fixture(autouse=True)
def _arrow_for_small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Arrow path starts at 1 MB (smaller files are read row by row, quicker to start);
    these cases are small files, taken by it all the same."""
    monkeypatch.setattr(columns, "ARROW_MIN_BYTES", 0)


def _parents(engine: Engine) -> None:
    rows = import_parents(stores=4, categories=2)
    rows.add("forecasts", forecast_id=FORECAST, category_id="CAT0", forecast_horizon_weeks=12)
    rows.write(engine)


def _stored(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "historical_sales": "SELECT sale_id, store_id, category_id, week_start_date, units_sold "
        "FROM historical_sales ORDER BY sale_id",
        "actual_sales": "SELECT actual_id, forecast_id, store_id, week_number, units_sold "
        "FROM actual_sales ORDER BY actual_id",
    }
    with engine.connect() as connection:
        return {
            table: [tuple(str(value) for value in row) for row in connection.execute(text(sql))]
            for table, sql in queries.items()
        }


class _Spy:
    """Wraps ``columns.batches``: records whether the Arrow path took the file."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, refuse: bool) -> None:
        self.outcomes: list[str] = []
        real = columns.batches

        def batches(*args: Any, **kwargs: Any) -> Iterator[columns.Batch]:
            if refuse:
                raise columns.NotPlain("switched off by the test")
            try:
                yield from real(*args, **kwargs)
            except (columns.NotPlain, GeneratorExit):
                # Refused by the reader, or closed early because a column was refused.
                self.outcomes.append("declined")
                raise
            self.outcomes.append("read")

        monkeypatch.setattr(columns, "batches", batches)


Importer = Callable[[Engine, Path], object]


def _both_ways(
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: str | bytes,
    run: Importer,
) -> tuple[list[str], tuple[object, object], tuple[object, object]]:
    """(what the Arrow path did, (outcome as ffdb runs, row-by-row), (stored, stored))."""
    path = write_file(tmp_path / "weekly.csv", content)
    outcomes: list[object] = []
    stored: list[object] = []
    spy: _Spy | None = None
    for name, refuse in (("arrow.db", False), ("rows.db", True)):
        with database_cache.copy(HEAD, tmp_path / name) as url, monkeypatch.context() as patch:
            engine = make_engine(url)
            try:
                _parents(engine)
                current = _Spy(patch, refuse=refuse)
                spy = spy or current
                try:
                    outcome: object = asdict(run(engine, path))  # type: ignore[call-overload]
                except ImportRejected as rejected:
                    outcome = rejected.lines()
                outcomes.append(outcome)
                stored.append(_stored(engine))
            finally:
                engine.dispose()
    assert spy is not None
    return spy.outcomes, (outcomes[0], outcomes[1]), (stored[0], stored[1])


def _history(engine: Engine, path: Path) -> object:
    return import_historical_sales(engine, path)


def _actuals(engine: Engine, path: Path) -> object:
    return import_actuals(engine, path, FORECAST)


def _actuals_after_others(engine: Engine, path: Path) -> object:
    """The file imported against a forecast that already holds actuals (of week 12)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO actual_sales (actual_id, forecast_id, store_id, week_number, "
                "units_sold) VALUES (:actual_id, :forecast_id, 'S003', 12, 1)"
            ),
            {"actual_id": actual_sales_id(FORECAST, "S003", 12), "forecast_id": FORECAST},
        )
    return import_actuals(engine, path, FORECAST)


def _history_rows(*lines: str) -> str:
    return WEEKLY + "".join(line + "\n" for line in lines)


# The file, and what the Arrow path does with it: reads it, declines it (the row-by-row
# path reads it instead), or is not reached.
HISTORY_CASES: dict[str, tuple[str | bytes, str]] = {
    "plain": (
        _history_rows(
            "2025-02-03,S000,CAT0,5",
            "2025-02-03,S001,CAT0,0",
            "2025-02-10,S000,CAT0,123456789",
            "2025-02-10,S002,CAT1,7",
        ),
        "read",
    ),
    "windows line ends": (
        "week_start_date,store_id,category_id,units_sold\r\n"
        "2025-02-03,S000,CAT0,5\r\n2025-02-10,S001,CAT1,6\r\n",
        "read",
    ),
    "a byte-order mark": ("\ufeff" + _history_rows("2025-02-03,S000,CAT0,5"), "read"),
    "a quoted field": (
        _history_rows('2025-02-03,"S000",CAT0,5', "2025-02-10,S001,CAT0,6"),
        "declined",
    ),
    "a blank line": (
        _history_rows("2025-02-03,S000,CAT0,5", "", "2025-02-10,S001,CAT0,6"),
        "declined",
    ),
    "spaces around an id": (_history_rows("2025-02-03, S000 ,CAT0,5"), "declined"),
    "a spreadsheet-escaped id": (_history_rows("2025-02-03,'S000,CAT0,5"), "declined"),
    "units written 5.0": (_history_rows("2025-02-03,S000,CAT0,5.0"), "declined"),
    "ten-digit units": (_history_rows("2025-02-03,S000,CAT0,2147483647"), "declined"),
    "weeks on two weekdays": (
        _history_rows("2025-02-03,S000,CAT0,5", "2025-02-11,S001,CAT0,6"),
        "declined",
    ),
    "a negative unit count": (_history_rows("2025-02-03,S000,CAT0,-5"), "declined"),
    "an impossible date": (_history_rows("2025-02-30,S000,CAT0,5"), "declined"),
    "a short row": (_history_rows("2025-02-03,S000,CAT0,5", "2025-02-10,S001,CAT0"), "declined"),
    # Refused while the header is read, before either path starts.
    "not UTF-8": (WEEKLY.encode() + b"2025-02-03,S\xe9,CAT0,5\n", "not reached"),
    "a NUL character": (_history_rows("2025-02-03,S0\x0000,CAT0,5"), "declined"),
    "an unknown store": (_history_rows("2025-02-03,S000,CAT0,5", "2025-02-03,S999,CAT0,5"), "read"),
    "a duplicate key": (_history_rows("2025-02-03,S000,CAT0,5", "2025-02-03,S000,CAT0,6"), "read"),
    "header only": (WEEKLY, "read"),
}


@pytest.mark.parametrize("case", list(HISTORY_CASES))
def test_history_files_store_the_same_rows_by_either_path(
    case: str,
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content, expected = HISTORY_CASES[case]
    taken, outcomes, stored = _both_ways(database_cache, tmp_path, monkeypatch, content, _history)
    # On PostgreSQL a plain file is first tried straight into the table (``direct_copy``),
    # then, if the table refuses it, by the staged route: the Arrow reader runs twice.
    assert set(taken) == (set() if expected == "not reached" else {expected})
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]


def test_a_plain_history_file_is_stored_with_the_definitions_ids(
    database_cache: DatabaseCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _history_rows("2025-02-03,S000,CAT0,5", "2025-02-10,S001,CAT1,6")
    taken, _, stored = _both_ways(database_cache, tmp_path, monkeypatch, content, _history)
    assert taken == ["read"]
    assert stored[0]["historical_sales"] == [
        ("HS:S000:CAT0:2025-02-03", "S000", "CAT0", "2025-02-03", "5"),
        ("HS:S001:CAT1:2025-02-10", "S001", "CAT1", "2025-02-10", "6"),
    ]


ACTUALS_CASES: dict[str, tuple[str, str]] = {
    "plain": (ACTUALS + "S000,1,5\nS001,1,0\nS002,1,7\nS003,1,1\nS000,2,4\n", "read"),
    "a zero-padded week": (ACTUALS + "S000,01,5\n", "read"),
    "a week past the horizon": (ACTUALS + "S000,13,5\n", "declined"),
    "week zero": (ACTUALS + "S000,0,5\n", "declined"),
    "a quoted store": (ACTUALS + '"S000",1,5\n', "declined"),
    "an unknown store": (ACTUALS + "S000,1,5\nS999,1,5\n", "read"),
    # A forecast's first actuals: on SQLite the table's unique index refuses the repeat,
    # and the staged rows name the lines (PostgreSQL asks the staged rows first).
    "a duplicate key": (ACTUALS + "S000,1,5\nS001,1,6\nS000,1,6\n", "read"),
    "a duplicate key and an unknown store": (
        ACTUALS + "S000,1,5\nS999,1,6\nS000,1,6\n",
        "read",
    ),
}
# The same files against a forecast that already holds actuals: there SQLite's staging
# file keeps the file's key unique, and a repeat sends the file row by row, which names
# the lines (PostgreSQL stages it and asks the staged rows).
ACTUALS_OVER_STORED_CASES: dict[str, tuple[str, str]] = {
    "plain": ACTUALS_CASES["plain"],
    "an unknown store": ACTUALS_CASES["an unknown store"],
    "a duplicate key": (ACTUALS_CASES["a duplicate key"][0], "read, declined on SQLite"),
    "a duplicate key and an unknown store": (
        ACTUALS_CASES["a duplicate key and an unknown store"][0],
        "read, declined on SQLite",
    ),
}


@pytest.mark.parametrize("case", list(ACTUALS_CASES))
def test_actuals_files_store_the_same_rows_by_either_path(
    case: str,
    backend_name: str,
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content, expected = ACTUALS_CASES[case]
    if expected == "read, declined on SQLite":
        expected = "declined" if backend_name == "sqlite" else "read"
    taken, outcomes, stored = _both_ways(database_cache, tmp_path, monkeypatch, content, _actuals)
    assert taken == [expected]
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]
    if "duplicate" in case:
        assert any("duplicate store and week, first on line 2" in line for line in outcomes[0])


@pytest.mark.parametrize("case", list(ACTUALS_OVER_STORED_CASES))
def test_actuals_over_stored_actuals_store_the_same_rows_by_either_path(
    case: str,
    backend_name: str,
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content, expected = ACTUALS_OVER_STORED_CASES[case]
    if expected == "read, declined on SQLite":
        expected = "declined" if backend_name == "sqlite" else "read"
    importer = _actuals_after_others
    taken, outcomes, stored = _both_ways(database_cache, tmp_path, monkeypatch, content, importer)
    assert taken == [expected]
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]
    assert ("F_ARROW", "S003", "12") in {row[1:4] for row in stored[0]["actual_sales"]}  # type: ignore[index]


STRAIGHT_CASES = {
    "plain": (_history_rows("2025-02-03,S000,CAT0,5", "2025-02-10,S001,CAT1,6"), 2),
    "an unknown store": (_history_rows("2025-02-03,S000,CAT0,5", "2025-02-03,S999,CAT0,5"), None),
    "a duplicate key": (_history_rows("2025-02-03,S000,CAT0,5", "2025-02-03,S000,CAT0,6"), None),
    "a quoted field": (_history_rows('2025-02-03,"S000",CAT0,5'), None),
}


@pytest.mark.parametrize("backend_name", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
@pytest.mark.parametrize("case", list(STRAIGHT_CASES))
def test_postgresql_copies_a_plain_file_straight_into_the_table_or_leaves_it_unchanged(
    case: str,
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Straight in when the table takes every row; else nothing written by that try,
    and the staged route stores (or refuses) the file as it always has."""
    from backend.app.ingest import historical_sales

    content, expected = STRAIGHT_CASES[case]
    returned: list[int | None] = []
    real = historical_sales.copy_plain_history

    def spy(*args: Any, **kwargs: Any) -> int | None:
        rows = real(*args, **kwargs)
        returned.append(rows)
        return rows

    monkeypatch.setattr(historical_sales, "copy_plain_history", spy)
    path = write_file(tmp_path / "weekly.csv", content)
    with database_cache.copy(HEAD, tmp_path / "straight.db") as url:
        engine = make_engine(url)
        try:
            _parents(engine)
            with contextlib.suppress(ImportRejected):
                import_historical_sales(engine, path)
            count = _stored(engine)["historical_sales"]
        finally:
            engine.dispose()
    assert returned == [expected]
    if expected is None and case != "a quoted field":
        assert count == []  # refused by the staged route too, nothing written


@pytest.mark.parametrize("backend_name", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
@pytest.mark.parametrize("reader", [False, True], ids=["alone", "beside a reader"])
def test_postgresql_copy_into_an_empty_table_ends_with_its_foreign_keys_as_they_were(
    reader: bool,
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The keys set aside for the COPY come back from their own definitions, validated
    (the catalogue is the head schema's again); a reader holding the table keeps them in
    place (the lock is not granted in time) and the rows are checked one by one."""
    from backend.app.ingest import direct_copy, historical_sales
    from backend.app.maintenance.head_schema import matches_head

    set_aside = watch_set_aside(monkeypatch, direct_copy)
    copied: list[int | None] = []
    real = historical_sales.copy_plain_history
    monkeypatch.setattr(
        historical_sales,
        "copy_plain_history",
        lambda *args, **kwargs: copied.append(real(*args, **kwargs)) or copied[-1],
    )
    path = write_file(tmp_path / "weekly.csv", STRAIGHT_CASES["plain"][0])
    with database_cache.copy(HEAD, tmp_path / "keys.db") as url:
        engine = make_engine(url)
        try:
            _parents(engine)
            before = history_foreign_keys(engine)
            with table_held(engine, reader):
                import_historical_sales(engine, path)
            after = history_foreign_keys(engine)
            with engine.connect() as connection:
                assert matches_head(connection)
            assert len(_stored(engine)["historical_sales"]) == 2
        finally:
            engine.dispose()
    assert copied == [2]
    assert set_aside == [not reader]
    assert after == before and len(before) == 2 and all(row[2] for row in after)


# (stored first, then the file): what the COPY straight in returns for the file.
OVER_STORED_CASES = {
    # Declined before copying (the first block's keys are stored): the staged route
    # upserts, as it always has.
    "a re-import with new units": (
        _history_rows("2025-02-03,S000,CAT0,5", "2025-02-10,S001,CAT1,6"),
        _history_rows("2025-02-03,S000,CAT0,7", "2025-02-10,S001,CAT1,8"),
        None,
    ),
    "a stored series starting weeks on Tuesday": (
        _history_rows("2025-02-04,S000,CAT0,5"),
        _history_rows("2025-02-10,S000,CAT0,5"),
        None,
    ),
    # Stored weeks on another weekday, but in another series: the series check after the
    # COPY clears the file.
    "another series starting weeks on Tuesday": (
        _history_rows("2025-02-04,S001,CAT1,5"),
        _history_rows("2025-02-10,S000,CAT0,5"),
        1,
    ),
    "new weeks of a stored series": (
        _history_rows("2025-02-03,S000,CAT0,5"),
        _history_rows("2025-02-10,S000,CAT0,6", "2025-02-17,S000,CAT0,7"),
        2,
    ),
}


@pytest.mark.parametrize("backend_name", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
@pytest.mark.parametrize("case", list(OVER_STORED_CASES))
def test_postgresql_copies_over_stored_history_only_what_the_staged_route_would_store(
    case: str,
    database_cache: DatabaseCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The checks made before and after the COPY straight in (keys already stored,
    stored weeks on another weekday) send the file to the staged route exactly when it
    must: the outcome and the stored rows are those of the staged route alone."""
    from backend.app.ingest import historical_sales

    stored_first, content, expected = OVER_STORED_CASES[case]
    first = write_file(tmp_path / "first.csv", stored_first)
    path = write_file(tmp_path / "weekly.csv", content)
    real = historical_sales.copy_plain_history
    returned: list[int | None] = []

    def spy(*args: Any, **kwargs: Any) -> int | None:
        rows = real(*args, **kwargs)
        returned.append(rows)
        return rows

    outcomes: list[object] = []
    stored: list[object] = []
    for name, straight in (("straight.db", True), ("staged.db", False)):
        with database_cache.copy(HEAD, tmp_path / name) as url, monkeypatch.context() as patch:
            engine = make_engine(url)
            try:
                _parents(engine)
                import_historical_sales(engine, first)
                patch.setattr(
                    historical_sales,
                    "copy_plain_history",
                    spy if straight else lambda *_, **__: None,
                )
                try:
                    outcome: object = asdict(import_historical_sales(engine, path))
                except ImportRejected as rejected:
                    outcome = rejected.lines()
                outcomes.append(outcome)
                stored.append(_stored(engine))
            finally:
                engine.dispose()
    assert returned == [expected]
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]


@pytest.mark.parametrize("merge_values", [1, 3, 1 << 20])
def test_the_distinct_values_of_a_file_are_those_of_all_its_blocks(
    merge_values: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks' distinct values merged now and then (``merge_values``: after every block,
    every few, only at the end) give the file's distinct values all the same."""
    import pyarrow as pa

    monkeypatch.setattr(columns.DistinctValues, "MERGE_VALUES", merge_values)
    distinct = columns.DistinctValues()
    assert distinct.values() == set()
    blocks = [["S1", "S2"], ["S2", "S3", "S1"], ["S4"], ["S1"]]
    for block in blocks:
        columns.plain_ids(pa.array(block), distinct)
    assert distinct.values() == {"S1", "S2", "S3", "S4"}
