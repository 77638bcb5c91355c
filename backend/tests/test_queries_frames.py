"""DataFrame reads (``queries.frames``) against answers computed from the typed rows.

Every frame is read on SQLite and PostgreSQL from the read tests' database (the demo
season, seed 42, and the edge cases) and compared with the same numbers built in
Python from ``select(Model)`` rows, never through ``backend.app.queries``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.models import (
    Category,
    Forecast,
    HistoricalSales,
    Store,
    StoreCluster,
    StoreExtraAttributes,
)
from backend.app.queries import NotFound, frames
from backend.app.queries.frames import (
    forecast_actuals_frame,
    history_frame,
    prophet_frame,
    store_attributes_frame,
)
from backend.tests.support.expected_reads import all_rows, expected_variance
from backend.tests.support.exports import CATEGORY_ID
from backend.tests.support.rows import valid_row
from backend.tests.support.samples import exports_season

CATEGORIES = ("CAT-WD", "CAT-AC", "EDGE_CAT")


@pytest.fixture
def db(reads_url: URL):
    engine = make_engine(reads_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _history(db: Session, category_id: str) -> list[HistoricalSales]:
    return [row for row in all_rows(db, HistoricalSales) if row.category_id == category_id]


def _weeks(frame: pd.DataFrame, column: str = "week_start_date") -> list[date]:
    return [stamp.date() for stamp in frame[column]]


@pytest.mark.parametrize("category_id", CATEGORIES)
def test_history_per_store_is_every_stored_row(db: Session, category_id: str) -> None:
    frame = history_frame(db, category_id, by="store")
    assert list(frame.columns) == ["store_id", "week_start_date", "units_sold"]
    assert isinstance(frame["store_id"].dtype, pd.CategoricalDtype)
    assert str(frame["week_start_date"].dtype) == "datetime64[ms]"
    assert str(frame["units_sold"].dtype) == "int64"
    expected = sorted(
        (row.store_id, row.week_start_date, row.units_sold) for row in _history(db, category_id)
    )
    got = list(
        zip(frame["store_id"].astype(str), _weeks(frame), frame["units_sold"].tolist(), strict=True)
    )
    assert got == expected  # in (store, week) order, every row once


@pytest.mark.parametrize("parts", [2, 3, 8])
def test_history_per_store_read_in_parallel_ranges_is_the_single_read(
    db: Session, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    """Ranges of store ids read on parallel connections give the one read's frame: the
    same rows, values, dtypes and order, whatever the number of parts."""
    monkeypatch.setattr(frames, "SPLIT_MIN_ROWS", 0)  # small reads split too
    for category_id in CATEGORIES:
        monkeypatch.setattr(frames, "READ_PARTS", 1)
        single = history_frame(db, category_id, by="store")
        monkeypatch.setattr(frames, "READ_PARTS", parts)
        pd.testing.assert_frame_equal(history_frame(db, category_id, by="store"), single)
        assert len(single) == len(_history(db, category_id))


def _add_store_with_history(engine: Any, store_id: str, weeks: int) -> None:
    with Session(engine) as session:
        if session.get(StoreCluster, "CL") is None:
            session.add(StoreCluster(cluster_id="CL", cluster_name="c", fashion_tier="VALUE"))
            session.flush()
        session.add(
            Store(**valid_row("stores", store_id=store_id, store_name=store_id, cluster_id="CL"))
        )
        session.flush()
        for week in range(weeks):
            session.add(
                HistoricalSales(
                    sale_id=f"h-{store_id}-{week}",
                    store_id=store_id,
                    category_id=CATEGORY_ID,
                    week_start_date=date(2024, 1, 1) + timedelta(weeks=week),
                    units_sold=len(store_id) * 10 + week,
                )
            )
        session.commit()
    # No engine connection stays open beside the Arrow ones on SQLite (database/arrow.py:
    # the driver's own SQLite copy does not see this one's locks in the same process).
    engine.dispose()


def test_history_per_store_in_ranges_with_no_one_and_many_stores(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames, "READ_PARTS", 3)
    monkeypatch.setattr(frames, "SPLIT_MIN_ROWS", 0)
    exports_season().write(engine)  # the category, no store yet
    frame = history_frame(engine, CATEGORY_ID, by="store")
    assert len(frame) == 0 and isinstance(frame["store_id"].dtype, pd.CategoricalDtype)
    # One store; then stores added out of key order, one without history; ids that
    # sort differently by length and by text.
    expected: list[tuple[str, date, int]] = []
    for store_id, weeks in [("S5", 3), ("S10", 2), ("S1", 0), ("S2", 4), ("S30", 1)]:
        _add_store_with_history(engine, store_id, weeks)
        expected += [
            (store_id, date(2024, 1, 1) + timedelta(weeks=week), len(store_id) * 10 + week)
            for week in range(weeks)
        ]
        frame = history_frame(engine, CATEGORY_ID, by="store")
        got = list(
            zip(
                frame["store_id"].astype(str),
                _weeks(frame),
                frame["units_sold"].tolist(),
                strict=True,
            )
        )
        assert got == sorted(expected)
        assert str(frame["week_start_date"].dtype) == "datetime64[ms]"
        assert str(frame["units_sold"].dtype) == "int64"


@pytest.mark.parametrize("category_id", CATEGORIES)
def test_history_total_and_per_cluster_sum_the_rows(db: Session, category_id: str) -> None:
    cluster_of = {store.store_id: store.cluster_id for store in all_rows(db, Store)}
    totals: dict[date, int] = defaultdict(int)
    clusters: dict[tuple[str, date], int] = defaultdict(int)
    for row in _history(db, category_id):
        totals[row.week_start_date] += row.units_sold
        clusters[cluster_of[row.store_id], row.week_start_date] += row.units_sold

    frame = history_frame(db, category_id)
    assert list(frame.columns) == ["week_start_date", "units_sold"]
    assert list(zip(_weeks(frame), frame["units_sold"].tolist(), strict=True)) == sorted(
        totals.items()
    )

    frame = history_frame(db, category_id, by="cluster")
    assert list(frame.columns) == ["cluster_id", "week_start_date", "units_sold"]
    got = zip(
        frame["cluster_id"].astype(str), _weeks(frame), frame["units_sold"].tolist(), strict=True
    )
    assert [((c, w), u) for c, w, u in got] == sorted(clusters.items())


def test_prophet_frame_is_ds_and_y(db: Session) -> None:
    rows = [r for r in _history(db, "CAT-WD") if r.store_id == "S007"]
    frame = prophet_frame(db, "CAT-WD", store_id="S007")
    assert list(frame.columns) == ["ds", "y"]
    assert str(frame["ds"].dtype) == "datetime64[ms]" and str(frame["y"].dtype) == "float64"
    assert list(zip(_weeks(frame, "ds"), frame["y"].tolist(), strict=True)) == sorted(
        (r.week_start_date, float(r.units_sold)) for r in rows
    )
    cluster = prophet_frame(db, "CAT-WD", cluster_id="CL-VALUE")
    value_stores = {s.store_id for s in all_rows(db, Store) if s.cluster_id == "CL-VALUE"}
    sums: dict[date, int] = defaultdict(int)
    for row in _history(db, "CAT-WD"):
        if row.store_id in value_stores:
            sums[row.week_start_date] += row.units_sold
    assert list(zip(_weeks(cluster, "ds"), cluster["y"].tolist(), strict=True)) == [
        (week, float(units)) for week, units in sorted(sums.items())
    ]


def test_unknown_keys_are_named(db: Session) -> None:
    with pytest.raises(NotFound, match="category 'NOPE' does not exist"):
        history_frame(db, "NOPE", by="store")
    with pytest.raises(NotFound, match="store cluster 'NOPE' does not exist"):
        prophet_frame(db, "CAT-WD", cluster_id="NOPE")


def test_a_category_without_history_gives_empty_typed_frames(engine) -> None:
    exports_season().write(engine)  # a category and a forecast, no history
    frame = history_frame(engine, CATEGORY_ID, by="store")
    assert len(frame) == 0
    assert list(frame.columns) == ["store_id", "week_start_date", "units_sold"]
    assert str(frame["week_start_date"].dtype) == "datetime64[ms]"
    assert str(frame["units_sold"].dtype) == "int64"
    ds_y = prophet_frame(engine, CATEGORY_ID)
    assert (len(ds_y), list(ds_y.columns), str(ds_y["y"].dtype)) == (0, ["ds", "y"], "float64")
    assert store_attributes_frame(engine).empty


def test_store_attributes_frame_has_the_extras_as_columns(db: Session) -> None:
    frame = store_attributes_frame(db)
    stores = sorted(all_rows(db, Store), key=lambda s: s.store_id)
    tiers = {c.cluster_id: c.fashion_tier for c in all_rows(db, StoreCluster)}
    extras = {e.store_id: e.attributes for e in all_rows(db, StoreExtraAttributes)}
    assert list(frame.index) == [s.store_id for s in stores]
    keys = sorted({key for attributes in extras.values() for key in attributes})
    assert keys, "the demo season keeps extra attributes"
    assert list(frame.columns)[-len(keys) :] == keys
    for column in ("cluster_id", "fashion_tier", "region", "store_format", "location_tier"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
    for store in stores:
        got = frame.loc[store.store_id]
        assert got["store_name"] == store.store_name
        assert got["cluster_id"] == store.cluster_id
        assert got["fashion_tier"] == str(tiers[store.cluster_id])
        assert got["region"] == str(store.region)
        assert got["store_size_sqft"] == store.store_size_sqft
        assert got["avg_weekly_sales_12mo"] == pytest.approx(store.avg_weekly_sales_12mo)
        for key in keys:
            value = extras.get(store.store_id, {}).get(key)
            if value is None:
                assert pd.isna(got[key]), (store.store_id, key)
            else:
                assert got[key] == pytest.approx(value), (store.store_id, key)
    # Ready for a clustering library: the numeric columns are numbers, no objects.
    numeric = frame.select_dtypes("number")
    assert {"store_size_sqft", "median_income", "foot_traffic"} <= set(numeric.columns)


@pytest.mark.parametrize(("forecast_id", "week"), [("FC-CAT-WD-SS25", 9), ("EDGE_F2", 6)])
def test_forecast_against_actuals_per_week(db: Session, forecast_id: str, week: int) -> None:
    forecast = db.get(Forecast, forecast_id)
    assert forecast is not None
    expected = expected_variance(db, forecast, week)
    frame = forecast_actuals_frame(db, forecast_id, week)
    season_start = db.scalars(
        select(Category.season_start_date).where(Category.category_id == forecast.category_id)
    ).one()
    assert frame["week_number"].tolist() == list(range(1, week + 1))
    assert str(frame["actual_units"].dtype) == "Int64"
    planned = actual = 0
    for index, want in enumerate(expected["weeks"]):
        row = frame.iloc[index]
        start = season_start + timedelta(days=7 * index)
        assert row["week_start"].date() == start
        assert row["week_end"].date() == start + timedelta(days=6)
        assert row["forecast_units"] == want["forecast_units"]
        assert row["stores_reported"] == want["stores_reported"]
        if want["actual_units"] is None:  # missing, not zero
            for column in ("actual_units", "variance_units", "cumulative_variance_units"):
                assert row[column] is pd.NA, column
            continue
        planned += want["forecast_units"]
        actual += want["actual_units"]
        assert row["actual_units"] == want["actual_units"]
        assert row["variance_units"] == want["actual_units"] - want["forecast_units"]
        _same(row["variance_pct"], want["variance_pct"])
        assert row["cumulative_variance_units"] == actual - planned
        _same(row["cumulative_variance_pct"], (actual - planned) / planned if planned else None)
    assert actual == expected["cumulative"]["actual_units"]


def _same(got: Any, want: float | None) -> None:
    if want is None:
        assert got is pd.NA
    else:
        assert math.isclose(float(got), want, rel_tol=1e-9)


def test_ids_with_quotes_and_backslashes_read_exactly(engine) -> None:
    """Ids reach the SQL as bound parameters or as the dialect's own literals: a quote,
    a backslash or SQL text in an id is just part of the id."""
    from backend.app.models import Category, StoreCluster

    odd = "O'Brien \\' ); DROP TABLE stores; --"
    with Session(engine) as session:
        session.add(StoreCluster(cluster_id="C'1", cluster_name="c", fashion_tier="VALUE"))
        session.add(
            Category(
                category_id=odd,
                category_name="odd",
                season_start_date=date(2025, 2, 17),
                season_end_date=date(2025, 5, 11),
                season_length_weeks=12,
            )
        )
        session.flush()
        session.add(Store(**valid_row("stores", store_id="S'\\1", cluster_id="C'1")))
        session.flush()
        session.add(
            HistoricalSales(
                sale_id="h1",
                store_id="S'\\1",
                category_id=odd,
                week_start_date=date(2024, 1, 1),
                units_sold=3,
            )
        )
        session.commit()
    frame = history_frame(engine, odd, by="store")
    assert frame["store_id"].astype(str).tolist() == ["S'\\1"]
    assert frame["units_sold"].tolist() == [3]
    ds_y = prophet_frame(engine, odd, store_id="S'\\1", cluster_id=None)
    assert ds_y["y"].tolist() == [3.0]
    assert len(store_attributes_frame(engine)) == 1  # the stores table is still there
