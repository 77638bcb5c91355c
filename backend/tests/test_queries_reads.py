"""Every read against an answer computed here, in Python, from the raw rows.

The expected answers never go through ``backend.app.queries``: the tests load whole
tables with plain ``select(Model)`` and aggregate them with dicts and sorted().
Each read is checked for every key the data holds (every cluster, category, forecast,
allocation, workflow), on both backends.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app import queries
from backend.app.database.db import make_engine, read_only
from backend.app.models import (
    ActualSales,
    Allocation,
    Forecast,
    ForecastClusterDistribution,
    HistoricalSales,
    Store,
    StoreCluster,
    WorkflowLog,
)
from backend.app.schemas.read_models import StoreAttributes
from backend.tests.support.expected_reads import (
    all_rows,
    expected_variance,
    newest_row,
    rounded,
)


@pytest.fixture
def reads_engine(reads_url: URL) -> Iterator[Engine]:
    engine = make_engine(reads_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(reads_engine: Engine) -> Iterator[Session]:
    with Session(read_only(reads_engine)) as session:
        yield session


# --- stores and clusters ------------------------------------------------------------------


def test_clusters_with_store_counts_include_empty_clusters(db: Session) -> None:
    counts = Counter(store.cluster_id for store in all_rows(db, Store))
    expected = [
        (cluster.cluster_id, cluster.cluster_name, cluster.fashion_tier, counts[cluster.cluster_id])
        for cluster in sorted(all_rows(db, StoreCluster), key=lambda c: c.cluster_id)
    ]
    got = [
        (row.cluster_id, row.cluster_name, row.fashion_tier, row.store_count)
        for row in queries.clusters_with_store_counts(db)
    ]
    assert got == expected
    assert ("EDGE_EMPTY", 0) in [(row[0], row[3]) for row in got]


def test_stores_of_each_cluster_with_attributes(db: Session) -> None:
    stores = all_rows(db, Store)
    attributes = list(StoreAttributes.model_fields)
    for cluster in all_rows(db, StoreCluster):
        expected = [
            {name: getattr(store, name) for name in attributes}
            for store in sorted(stores, key=lambda s: s.store_id)
            if store.cluster_id == cluster.cluster_id
        ]
        got = [row.model_dump() for row in queries.stores_of_cluster(db, cluster.cluster_id)]
        assert got == expected, cluster.cluster_id
    assert queries.stores_of_cluster(db, "EDGE_EMPTY") == []


def test_stores_of_an_unknown_cluster_is_an_error(db: Session) -> None:
    with pytest.raises(queries.NotFound, match="store cluster 'NOPE' does not exist"):
        queries.stores_of_cluster(db, "NOPE")


# --- historical series --------------------------------------------------------------------


def test_weekly_history_for_all_stores_each_cluster_and_each_store(db: Session) -> None:
    cluster_of = {store.store_id: store.cluster_id for store in all_rows(db, Store)}
    # One pass over the rows: units per (category, scope, week) for the three scopes.
    totals: dict[tuple[str, str, str], dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for sale in all_rows(db, HistoricalSales):
        for scope in (
            ("all", ""),
            ("cluster_id", cluster_of[sale.store_id]),
            ("store_id", sale.store_id),
        ):
            totals[(sale.category_id, *scope)][sale.week_start_date] += sale.units_sold
    scopes = [("all", "")]
    scopes += [("cluster_id", cluster.cluster_id) for cluster in all_rows(db, StoreCluster)]
    scopes += [("store_id", store_id) for store_id in sorted(cluster_of)]
    categories = sorted({key[0] for key in totals})
    assert categories
    for category_id in categories:
        for kind, key in scopes:
            arguments = {} if kind == "all" else {kind: key}
            series = queries.weekly_history(db, category_id, **arguments)
            got = [(week.week_start_date, week.units_sold) for week in series.weeks]
            expected = sorted(totals.get((category_id, kind, key), {}).items())
            assert got == expected, (category_id, kind, key)


def test_weekly_history_refuses_unknown_keys_and_two_scopes(db: Session) -> None:
    with pytest.raises(queries.NotFound, match="category 'NOPE'"):
        queries.weekly_history(db, "NOPE")
    with pytest.raises(queries.NotFound, match="store 'NOPE'"):
        queries.weekly_history(db, "EDGE_CAT", store_id="NOPE")
    with pytest.raises(queries.InvalidReadArgument, match="not both"):
        queries.weekly_history(db, "EDGE_CAT", store_id="EDGE_S1", cluster_id="EDGE_C")


# --- forecasts ----------------------------------------------------------------------------


def test_latest_forecast_of_each_category_and_season(db: Session) -> None:
    forecasts = all_rows(db, Forecast)
    clusters = {cluster.cluster_id: cluster.cluster_name for cluster in all_rows(db, StoreCluster)}
    shares = all_rows(db, ForecastClusterDistribution)
    for category_id, season in {(f.category_id, f.season) for f in forecasts}:
        newest = newest_row(
            [f for f in forecasts if (f.category_id, f.season) == (category_id, season)],
            "forecast_id",
        )
        got = queries.latest_forecast(db, category_id, season)
        assert got.forecast_id == newest.forecast_id
        assert got.total_season_demand == newest.total_season_demand
        assert [p.model_dump() for p in got.curve] == sorted(
            newest.weekly_demand_curve, key=lambda p: p["week_number"]
        )
        assert [s.model_dump() for s in got.distribution] == [
            {
                "cluster_id": share.cluster_id,
                "cluster_name": clusters[share.cluster_id],
                "allocation_percentage": share.allocation_percentage,
                "total_units": share.total_units,
            }
            for share in sorted(shares, key=lambda s: s.cluster_id)
            if share.forecast_id == newest.forecast_id
        ]
    # Two forecasts share created_at: the greater id is the latest.
    assert queries.latest_forecast(db, "EDGE_CAT", "Spring 2025").forecast_id == "EDGE_F2"
    with pytest.raises(queries.NotFound, match="no forecast of category 'EDGE_CAT'"):
        queries.latest_forecast(db, "EDGE_CAT", "Winter 1999")


# --- allocations --------------------------------------------------------------------------


def test_each_allocation_with_its_store_split_and_attributes(db: Session) -> None:
    stores = {store.store_id: store for store in all_rows(db, Store)}
    allocations = all_rows(db, Allocation)
    assert allocations
    for allocation in allocations:
        got = queries.allocation_with_stores(db, allocation.allocation_id)
        assert got.forecast_id == allocation.forecast_id
        assert got.initial_allocation_total == allocation.initial_allocation_total
        expected = []
        for item in sorted(allocation.store_allocations, key=lambda i: i["store_id"]):
            store = stores[item["store_id"]]
            expected.append(
                (
                    item["store_id"],
                    item["initial"],
                    item["holdback"],
                    store.store_name,
                    store.cluster_id,
                    store.region,
                )
            )
        assert [
            (s.store_id, s.initial, s.holdback, s.store_name, s.cluster_id, s.region)
            for s in got.stores
        ] == expected
    with pytest.raises(queries.NotFound, match="allocation 'NOPE'"):
        queries.allocation_with_stores(db, "NOPE")


# --- variance and sell-through ------------------------------------------------------------


def test_variance_of_every_forecast_at_every_week(db: Session) -> None:
    forecasts = all_rows(db, Forecast)
    assert forecasts
    sales_of: dict[str, list[ActualSales]] = defaultdict(list)
    for sale in all_rows(db, ActualSales):
        sales_of[sale.forecast_id].append(sale)
    for forecast in forecasts:
        sales = sales_of[forecast.forecast_id]
        for week in range(1, forecast.forecast_horizon_weeks + 1):
            got = queries.forecast_variance(db, forecast.forecast_id, week).to_json_object()
            expected = expected_variance(db, forecast, week, sales)
            assert rounded(got) == rounded(expected), (
                forecast.forecast_id,
                week,
            )


def test_variance_edge_cases(db: Session) -> None:
    report = queries.forecast_variance(db, "EDGE_F2", 4)
    # Week 2 forecasts 0 units: no percentage rather than a division by zero.
    assert report.weeks[1].forecast_units == 0 and report.weeks[1].variance_pct is None
    assert report.allocation_id == "EDGE_A_NEW"
    by_store = {store.store_id: store for store in report.stores}
    # Sold without an allocation entry; shipped 0 units; shipped without sales.
    assert by_store["EDGE_S4"].units_shipped is None
    assert by_store["EDGE_S4"].sell_through_pct is None
    assert by_store["EDGE_S3"].units_shipped == 0
    assert by_store["EDGE_S3"].sell_through_pct is None
    assert by_store["EDGE_S1"].units_shipped == 40  # the newer allocation's initial
    # A forecast without allocation or sales still has its weekly forecast, and no week
    # of actuals: missing is not zero.
    bare = queries.forecast_variance(db, "EDGE_F1", 6)
    assert bare.stores == [] and bare.allocation_id is None and bare.stores_allocated is None
    assert all(w.actual_units is None and w.variance_pct is None for w in bare.weeks)
    assert bare.cumulative.weeks_reported == 0 and bare.cumulative.actual_units == 0
    assert bare.cumulative.forecast_units == 0 and bare.cumulative.variance_pct is None
    assert sum(w.forecast_units for w in bare.weeks) == 190


@pytest.mark.parametrize("week", [0, 7, -1])
def test_variance_refuses_weeks_outside_the_horizon(db: Session, week: int) -> None:
    with pytest.raises(queries.InvalidReadArgument, match=rf"week {week} is outside .*1\.\.6"):
        queries.forecast_variance(db, "EDGE_F2", week)


def test_variance_of_an_unknown_forecast_is_an_error(db: Session) -> None:
    with pytest.raises(queries.NotFound, match="forecast 'NOPE' does not exist"):
        queries.forecast_variance(db, "NOPE", 1)


def test_sell_through_to_date_of_every_allocated_forecast(db: Session) -> None:
    allocations = all_rows(db, Allocation)
    sales = all_rows(db, ActualSales)
    forecasts = {f.forecast_id: f for f in all_rows(db, Forecast)}
    for forecast_id in sorted({a.forecast_id for a in allocations}):
        newest = newest_row(
            [a for a in allocations if a.forecast_id == forecast_id], "allocation_id"
        )
        shipped = sum(item["initial"] for item in newest.store_allocations)
        for week in range(1, forecasts[forecast_id].forecast_horizon_weeks + 1):
            sold = sum(
                s.units_sold
                for s in sales
                if s.forecast_id == forecast_id and s.week_number <= week
            )
            got = queries.sell_through_to_date(db, forecast_id, week, target_sell_through_pct=0.55)
            assert got.allocation_id == newest.allocation_id
            assert (got.units_sold, got.units_shipped) == (sold, shipped)
            assert got.sell_through_pct == pytest.approx(sold / shipped)
            assert got.gap_pct == pytest.approx(0.55 - sold / shipped)


def test_sell_through_needs_an_allocation_and_a_sane_target(db: Session) -> None:
    with pytest.raises(queries.NotFound, match="'EDGE_F1' has no allocation"):
        queries.sell_through_to_date(db, "EDGE_F1", 3)
    with pytest.raises(queries.InvalidReadArgument, match=r"target_sell_through_pct 1\.5"):
        queries.sell_through_to_date(db, "EDGE_F2", 3, target_sell_through_pct=1.5)


# --- workflow trail -----------------------------------------------------------------------


def test_workflow_trail_of_every_workflow_in_order(db: Session) -> None:
    logs = all_rows(db, WorkflowLog)
    floor = datetime.min.replace(tzinfo=UTC)
    for workflow_id in sorted({log.workflow_id for log in logs}):
        mine = sorted(
            (log for log in logs if log.workflow_id == workflow_id),
            key=lambda log: (log.created_at or floor, log.log_id),
        )
        got = queries.workflow_trail(db, workflow_id)
        assert [step.log_id for step in got.steps] == [log.log_id for log in mine]
        assert [step.duration_seconds for step in got.steps] == [
            log.duration_seconds for log in mine
        ]
        assert got.total_duration_seconds == pytest.approx(
            sum(log.duration_seconds or 0 for log in mine)
        )
        assert got.steps_without_duration == sum(log.duration_seconds is None for log in mine)
    # Same created_at: log_id decides.
    edge = queries.workflow_trail(db, "EDGE_WF")
    assert [step.log_id for step in edge.steps] == ["EDGE_L9", "EDGE_L8", "EDGE_L6", "EDGE_L7"]
    with pytest.raises(queries.NotFound, match="workflow 'NOPE' has no log entries"):
        queries.workflow_trail(db, "NOPE")
