"""The write API's set-based paths (``sales_columns``, ``allocation_split``) against its
item-by-item paths: the same rows stored, the same error for every refused call, and
nothing left behind (no rows, no scratch file); on both backends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.app.domain import records, sales_columns
from backend.app.domain.records import ActualSalesRow, ClusterShare, HistoricalSalesRow
from backend.app.maintenance import bulk_move
from backend.app.maintenance.definitions import actual_sales_id, historical_sale_id
from backend.app.models import ActualSales, Allocation, HistoricalSales
from backend.app.models.enums import FashionTier, LocationTier, Region, StoreFormat
from backend.app.models.keys import KEY_MAX_LENGTH
from backend.app.schemas.payloads import PayloadError, validate_store_allocations

MONDAY = date(2024, 1, 1)
STORES = ("S1", "S2", "S3")


@pytest.fixture
def master(engine: Engine) -> Engine:
    """Three stores, a category and a four-week forecast, written through the API."""
    with Session(engine) as session:
        records.upsert_store_cluster(
            session, cluster_id="C1", cluster_name="Premium", fashion_tier=FashionTier.PREMIUM
        )
        for store_id in STORES:
            records.upsert_store(
                session,
                store_id=store_id,
                store_name=f"Store {store_id}",
                cluster_id="C1",
                store_size_sqft=10_000,
                location_tier=LocationTier.A,
                median_income=90_000,
                store_format=StoreFormat.MALL,
                region=Region.WEST,
                avg_weekly_sales_12mo=800.0,
            )
        records.upsert_category(
            session,
            category_id="WD",
            category_name="Women's Dresses",
            season_start_date=date(2025, 2, 17),
            season_end_date=date(2025, 3, 16),
            season_length_weeks=4,
        )
        records.record_forecast(
            session,
            forecast_id="F1",
            category_id="WD",
            season="Spring 2025",
            forecast_horizon_weeks=4,
            total_season_demand=40,
            weekly_demand_curve=[{"week_number": w, "demand_units": 10} for w in range(1, 5)],
            cluster_distribution=[ClusterShare("C1", 1.0, 40)],
        )
        session.commit()
    return engine


@pytest.fixture(params=["row by row", "as columns"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every call of the test down one path: the column path for any size, or never."""
    threshold = 0 if request.param == "as columns" else 10**9
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", threshold)
    return str(request.param)


def _count(engine: Engine, model: type[Any]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _history(weeks: int = 3, units: int = 10) -> list[HistoricalSalesRow]:
    return [
        HistoricalSalesRow(store, "WD", MONDAY + timedelta(weeks=week), units + week)
        for store in STORES
        for week in range(weeks)
    ]


def test_both_paths_store_the_same_rows_and_update_them(
    master: Engine, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved: list[int | None] = []
    for name in ("stage_historical_sales", "stage_actual_sales"):
        stage = getattr(sales_columns, name)
        monkeypatch.setattr(
            sales_columns, name, lambda *a, _stage=stage: moved.append(_stage(*a)) or moved[-1]
        )
    history = _history()
    actuals = [ActualSalesRow(store, week, 5) for store in STORES for week in (1, 2)]
    with Session(master) as session:
        assert records.record_historical_sales(session, history) == len(history)
        assert records.record_actual_sales(session, "F1", actuals) == len(actuals)
        session.commit()
    with Session(master) as session:  # a second write of changed units updates them
        assert records.record_historical_sales(session, _history(units=20)) == len(history)
        assert records.record_actual_sales(session, "F1", actuals[:2]) == 2
        session.commit()
    with Session(master) as session:
        stored = {
            (row.sale_id, row.store_id, row.category_id, row.week_start_date, row.units_sold)
            for row in session.scalars(select(HistoricalSales))
        }
        sold = {
            (row.actual_id, row.forecast_id, row.store_id, row.week_number, row.units_sold)
            for row in session.scalars(select(ActualSales))
        }
    assert stored == {
        (historical_sale_id(r.store_id, "WD", r.week_start_date), *astuple(r))
        for r in _history(units=20)
    }
    # The column path took every call (it declines nothing valid), the row path none.
    assert moved == ([9, 6, 9, 2] if path == "as columns" else [None] * 4)
    assert sold == {
        (actual_sales_id("F1", r.store_id, r.week_number), "F1", r.store_id, r.week_number, 5)
        for r in actuals
    }


TUESDAY = MONDAY + timedelta(days=1)
LONG = "S" * (KEY_MAX_LENGTH + 1)
HISTORY_REFUSALS: dict[str, Callable[[list[HistoricalSalesRow]], list[Any]]] = {
    "unknown store": lambda rows: [*rows, HistoricalSalesRow("S9", "WD", MONDAY, 1)],
    "unknown category": lambda rows: [*rows, HistoricalSalesRow("S1", "XX", MONDAY, 1)],
    "negative units": lambda rows: [*rows[:-1], HistoricalSalesRow("S3", "WD", MONDAY, -1)],
    "repeated key": lambda rows: [*rows, rows[1]],
    "another weekday": lambda rows: [*rows, HistoricalSalesRow("S1", "WD", TUESDAY, 1)],
    "edge whitespace": lambda rows: [*rows, HistoricalSalesRow(" S1", "WD", MONDAY, 1)],
    "over-long key": lambda rows: [*rows, HistoricalSalesRow(LONG, "WD", MONDAY, 1)],
    # Types the row path takes as they come (SQLite stores them): the column path must
    # leave them to it, not convert them its own way.
    "bool units": lambda rows: [*rows, HistoricalSalesRow("S1", "WD", MONDAY - timedelta(7), True)],
    "float units": lambda rows: [*rows, HistoricalSalesRow("S1", "WD", MONDAY - timedelta(7), 1.5)],  # type: ignore[arg-type]
    "datetime week": lambda rows: [
        *rows,
        HistoricalSalesRow("S1", "WD", datetime(2023, 12, 25, 9), 1),
    ],
    "bytes store": lambda rows: [*rows, HistoricalSalesRow(b"S1", "WD", MONDAY, 1)],  # type: ignore[arg-type]
    "units beyond 32 bits": lambda rows: [
        *rows[:-1],
        HistoricalSalesRow("S3", "WD", MONDAY, 2**31),
    ],
    "64-bit overflow": lambda rows: [*rows[:-1], HistoricalSalesRow("S3", "WD", MONDAY, 2**70)],
}

TAKEN_AS_GIVEN = ("bool units", "float units", "datetime week", "units beyond 32 bits")


def _outcome(write: Callable[[Session], object], engine: Engine) -> tuple[str, str]:
    """The exception a call raises (type and message), after which nothing of it is
    stored; a call that raises nothing is rolled back."""
    before = _count(engine, HistoricalSales), _count(engine, ActualSales)
    with Session(engine) as session:
        try:
            write(session)
        except Exception as error:
            session.commit()
            assert (_count(engine, HistoricalSales), _count(engine, ActualSales)) == before
            return type(error).__name__, str(error)
        session.rollback()
    return "nothing raised", ""


def _both_paths(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, write: Callable[[Session], object]
) -> tuple[tuple[str, str], tuple[str, str]]:
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", 10**9)
    by_rows = _outcome(write, engine)
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", 0)
    return by_rows, _outcome(write, engine)


@pytest.mark.parametrize("case", HISTORY_REFUSALS)
def test_a_refused_history_call_raises_what_the_row_path_raises(
    master: Engine, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    rows = HISTORY_REFUSALS[case](_history())
    by_rows, as_columns = _both_paths(
        monkeypatch, master, lambda session: records.record_historical_sales(session, rows)
    )
    assert by_rows[0] != "nothing raised" or case in TAKEN_AS_GIVEN
    assert as_columns == by_rows


def test_a_stored_series_keeps_its_weekday_on_both_paths(
    master: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(master) as session:
        records.record_historical_sales(session, [HistoricalSalesRow("S2", "WD", MONDAY, 1)])
        session.commit()
    tuesdays = [HistoricalSalesRow("S2", "WD", TUESDAY + timedelta(weeks=w), 1) for w in (1, 2)]
    by_rows, as_columns = _both_paths(
        monkeypatch, master, lambda session: records.record_historical_sales(session, tuesdays)
    )
    assert "its stored weeks start on Monday" in by_rows[1]
    assert as_columns == by_rows


ACTUALS_REFUSALS: dict[str, list[Any]] = {
    "unknown store": [ActualSalesRow("S9", 1, 1)],
    "week outside the horizon": [ActualSalesRow("S1", 5, 1)],
    "week zero": [ActualSalesRow("S1", 0, 1)],
    "negative units": [ActualSalesRow("S1", 3, -2)],
    "repeated key": [ActualSalesRow("S1", 1, 4)],
    "edge whitespace": [ActualSalesRow("S1 ", 3, 1)],
    "bool week": [ActualSalesRow("S2", True, 1)],
    "float units": [ActualSalesRow("S2", 3, 1.0)],  # type: ignore[arg-type]
    "units beyond 32 bits": [ActualSalesRow("S2", 3, 2**31)],
}


@pytest.mark.parametrize("case", ACTUALS_REFUSALS)
def test_a_refused_actuals_call_raises_what_the_row_path_raises(
    master: Engine, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    rows = [ActualSalesRow(s, w, 2) for s in STORES for w in (1, 2)] + ACTUALS_REFUSALS[case]
    by_rows, as_columns = _both_paths(
        monkeypatch, master, lambda session: records.record_actual_sales(session, "F1", rows)
    )
    assert by_rows[0] != "nothing raised" or case in TAKEN_AS_GIVEN
    assert as_columns == by_rows


def test_a_database_error_mid_call_leaves_nothing(
    master: Engine, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows are moved, then something fails: the call's savepoint takes them back,
    and what the session wrote before stays."""
    move = bulk_move.upsert

    def moved_then_failed(*args: Any, **kwargs: Any) -> Any:
        move(*args, **kwargs)
        raise RuntimeError("the disk is full")

    with Session(master) as session:
        records.record_actual_sales(session, "F1", [ActualSalesRow("S1", 4, 1)])
        monkeypatch.setattr(bulk_move, "upsert", moved_then_failed)
        with pytest.raises(RuntimeError, match="the disk is full"):
            records.record_historical_sales(session, _history())
        session.commit()
    assert _count(master, HistoricalSales) == 0
    assert _count(master, ActualSales) == 1


# Scratch staging files are SQLite's: these tests run on SQLite only (never skipped).
sqlite_only = pytest.mark.parametrize("backend_name", ["sqlite"])


@pytest.fixture
def sqlite_master(master: Engine) -> Engine:
    assert master.dialect.name == "sqlite"
    return master


def _attached(session: Session) -> list[Path]:
    listed = session.connection().exec_driver_sql("PRAGMA database_list").all()
    return [Path(str(file)) for _seq, name, file in listed if str(name).endswith("_file")]


@sqlite_only
@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_the_scratch_file_goes_when_the_callers_transaction_ends(
    sqlite_master: Engine, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", 0)
    with Session(sqlite_master) as session:
        records.record_historical_sales(session, _history())
        (scratch,) = _attached(session)
        assert scratch.exists()  # held until the transaction ends: SQLite cannot detach
        getattr(session, end)()
        assert not scratch.exists() and not scratch.parent.exists()
        assert _attached(session) == []  # the session's next transaction has none
        records.record_historical_sales(session, _history(units=30))  # and can stage again
        session.commit()
    assert _count(sqlite_master, HistoricalSales) == len(_history())


@sqlite_only
def test_the_scratch_file_goes_with_an_invalidated_connection(
    sqlite_master: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection the pool throws away (a lost database, a killed process's lock) is
    never reset: its scratch file is deleted when the pool takes it back all the same."""
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", 0)
    with Session(sqlite_master) as session:
        records.record_historical_sales(session, _history())
        (scratch,) = _attached(session)
        session.connection().invalidate()
        session.rollback()
        assert not scratch.parent.exists()
    assert _count(sqlite_master, HistoricalSales) == 0


@sqlite_only
def test_two_calls_in_one_transaction_both_stage(
    sqlite_master: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scratch file's name is taken until the transaction ends: a second call of the
    same kind stages into a TEMP table instead."""
    monkeypatch.setattr(sales_columns, "ARROW_MIN_ROWS", 0)
    first = _history(weeks=2)
    second = [r for r in _history(weeks=4) if r.week_start_date >= MONDAY + timedelta(weeks=2)]
    with Session(sqlite_master) as session:
        assert records.record_historical_sales(session, first) == len(first)
        assert records.record_historical_sales(session, second) == len(second)
        assert len(_attached(session)) == 1
        session.commit()
    assert _count(sqlite_master, HistoricalSales) == len(first) + len(second)


# --- allocations --------------------------------------------------------------------------

SPLIT = [{"store_id": s, "initial": 10, "holdback": 2} for s in STORES]
ALLOCATION_REFUSALS: dict[str, list[dict[str, Any]]] = {
    "unknown store": [*SPLIT, {"store_id": "S9", "initial": 0, "holdback": 0}],
    "unknown stores and wrong sums": [*SPLIT, {"store_id": "S9", "initial": 1, "holdback": 0}],
    "repeated store": [*SPLIT, {"store_id": "S1", "initial": 0, "holdback": 0}],
    "wrong initial sum": [{**SPLIT[0], "initial": 11}, *SPLIT[1:]],
    "negative holdback": [{**SPLIT[0], "holdback": -1}, *SPLIT[1:]],
    "bool units": [{**SPLIT[0], "initial": True}, *SPLIT[1:]],
    "extra field": [{**SPLIT[0], "note": "x"}, *SPLIT[1:]],
    "missing field": [{"store_id": "S1", "initial": 10}, *SPLIT[1:]],
    "empty store": [{**SPLIT[0], "store_id": ""}, *SPLIT[1:]],
    "NUL in a store": [{**SPLIT[0], "store_id": "S\x001"}, *SPLIT[1:]],
}


def _allocate(split: list[dict[str, Any]], forecast_id: str = "F1") -> Callable[[Session], Any]:
    return lambda session: records.record_allocation(
        session,
        allocation_id="A1",
        forecast_id=forecast_id,
        manufacturing_qty=40,
        initial_allocation_total=30,
        holdback_total=6,
        store_allocations=split,
    )


def _allocation_outcome(engine: Engine, write: Callable[[Session], Any]) -> tuple[str, str]:
    with Session(engine) as session:
        try:
            write(session)
        except Exception as error:
            return type(error).__name__, str(error)
        finally:
            session.rollback()
    return "nothing raised", ""


@pytest.mark.parametrize("case", [*ALLOCATION_REFUSALS, "unknown forecast and store"])
def test_a_refused_allocation_raises_what_the_item_path_raises(
    master: Engine, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    if case == "unknown forecast and store":
        write = _allocate(ALLOCATION_REFUSALS["unknown store"], forecast_id="F404")
    else:
        write = _allocate(ALLOCATION_REFUSALS[case])
    as_a_set = _allocation_outcome(master, write)
    monkeypatch.setattr(records, "plain_store_allocations", lambda items: None)
    by_items = _allocation_outcome(master, write)
    assert by_items[0] in ("DomainRuleError", "PayloadError")
    assert as_a_set == by_items
    assert _count(master, Allocation) == 0


def test_a_plain_split_is_stored_tracked_and_validated_as_before(master: Engine) -> None:
    split = [dict(item) for item in SPLIT]
    with Session(master) as session:
        allocation = _allocate(split)(session)
        split[0]["initial"] = 99  # the caller's list is not the stored one
        allocation.store_allocations[0]["holdback"] = 3  # an edit is tracked
        allocation.holdback_total = 7
        session.commit()
        allocation.store_allocations[0]["initial"] = -1  # and still validated on write
        with pytest.raises(Exception, match=r"store_allocations\[0\]\.initial"):
            session.commit()
    with Session(master) as session:
        stored = session.get(Allocation, "A1")
        assert stored is not None
        assert stored.store_allocations == [{**SPLIT[0], "holdback": 3}, *SPLIT[1:]]


def test_a_split_taken_from_another_allocation_is_its_own(master: Engine) -> None:
    with Session(master) as session:
        first = _allocate([dict(item) for item in SPLIT])(session)
        second = records.record_allocation(
            session,
            allocation_id="A2",
            forecast_id="F1",
            manufacturing_qty=40,
            initial_allocation_total=30,
            holdback_total=6,
            store_allocations=first.store_allocations,
        )
        second.store_allocations[0]["holdback"] = 5
        second.holdback_total = 9
        session.commit()
    with Session(master) as session:
        stored = {
            a.allocation_id: a.store_allocations[0]["holdback"]
            for a in session.scalars(select(Allocation))
        }
    assert stored == {"A1": 2, "A2": 5}


def test_a_plain_split_is_one_the_model_accepts() -> None:
    """``plain_store_allocations`` answers for the model only where the model agrees."""
    from backend.app.schemas.payload_shapes import ALLOCATIONS
    from backend.app.schemas.payloads import plain_store_allocations

    splits = [SPLIT, *ALLOCATION_REFUSALS.values(), [{**SPLIT[0], "initial": 2**63}]]
    splits += [[{**SPLIT[0], "store_id": "Zürich"}], [], ({**SPLIT[0]},)]  # type: ignore[list-item]
    for split in splits:
        if plain_store_allocations(split) is not None:
            ALLOCATIONS.validate_python(split)  # the model accepts it
            assert len({item["store_id"] for item in split}) == len(split)
        else:
            assert split not in (SPLIT, [])
    assert plain_store_allocations(SPLIT) == list(STORES)
    with pytest.raises(PayloadError, match=r"store_allocations\[3\]\.store_id: 'S1' appears"):
        validate_store_allocations(ALLOCATION_REFUSALS["repeated store"])
