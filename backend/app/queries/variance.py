"""Variance of a forecast against actual sales through a week, computed in the database.

For forecast F and week N, three statements, each answered by the database:

1. the forecast's horizon and its latest allocation (one primary-key lookup);
2. per week 1..N: forecast units from the JSON curve (``json_each`` /
   ``jsonb_array_elements``) left-joined to SUM(actual_sales.units_sold) grouped by
   week, with the cumulative totals as window sums over the same rows;
3. per store: SUM(units_sold) through week N, against the store's ``initial`` units
   in the latest allocation's JSON split, in one GROUP BY over both.

actual_sales is only read through ``idx_actual_sales_forecast_week`` (forecast_id,
week_number) or the (forecast_id, store_id, week_number) unique index, so the cost
follows the forecast's own rows, not the size of the table.

Allocated units per store are the store's ``initial`` allocation: the units it received
at the start of the season. Holdback sits in the distribution centre and is not the
store's until replenished, which the schema does not record per week.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from backend.app.models import ActualSales, Allocation, Forecast
from backend.app.queries.allocations import latest_allocation_id_query
from backend.app.queries.errors import InvalidReadArgument, NotFound
from backend.app.queries.json_rows import json_array_rows
from backend.app.queries.sql import dialect_of, ratio_or_null, total
from backend.app.schemas.read_models import (
    CumulativeVariance,
    StoreSellThrough,
    VarianceReport,
    WeekVariance,
)


def forecast_horizon(session: Session, forecast_id: str) -> tuple[int, str | None]:
    """The forecast's horizon in weeks and its latest allocation id; NotFound if absent."""
    row = session.execute(_horizon_statement(), {"forecast_id": forecast_id}).one_or_none()
    if row is None:
        raise NotFound(f"forecast {forecast_id!r} does not exist")
    return int(row[0]), row[1]


def check_week(forecast_id: str, week: int, horizon: int) -> None:
    if not 1 <= week <= horizon:
        raise InvalidReadArgument(
            f"week {week} is outside forecast {forecast_id!r}'s horizon 1..{horizon}"
        )


def forecast_variance(session: Session, forecast_id: str, week: int) -> VarianceReport:
    """Forecast against actual units for weeks 1..``week``, cumulative, and per store."""
    horizon, allocation_id = forecast_horizon(session, forecast_id)
    check_week(forecast_id, week, horizon)
    weeks, cumulative = _weekly(session, forecast_id, week)
    return VarianceReport(
        forecast_id=forecast_id,
        week=week,
        allocation_id=allocation_id,
        weeks=weeks,
        cumulative=cumulative,
        stores=_per_store(session, forecast_id, week, allocation_id),
    )


# The statements are built once per dialect with bound parameters: an agent polling
# variance pays for SQL execution, not for rebuilding the same SQL in Python.
FORECAST_ID = bindparam("forecast_id", type_=String)
WEEK = bindparam("week", type_=Integer)
ALLOCATION_ID = bindparam("allocation_id", type_=String)


@functools.cache
def _horizon_statement() -> Select[Any]:
    latest = latest_allocation_id_query(FORECAST_ID).limit(1).scalar_subquery()
    return select(Forecast.forecast_horizon_weeks, latest).where(
        Forecast.forecast_id == FORECAST_ID
    )


@functools.cache
def weekly_variance_statement(dialect: str) -> Select[Any]:
    """Per week 1..:week of :forecast_id: forecast and actual units, plus window totals."""
    curve = json_array_rows(Forecast.weekly_demand_curve, dialect, "curve")
    curve_week = curve.integer("week_number")
    forecast_weeks = (
        select(
            curve_week.label("week_number"),
            curve.integer("demand_units").label("forecast_units"),
        )
        .select_from(Forecast)
        .join(curve.rows, true())
        .where(Forecast.forecast_id == FORECAST_ID, curve_week <= WEEK)
        .cte("forecast_weeks")
    )
    actual_weeks = (
        select(ActualSales.week_number, total(ActualSales.units_sold).label("actual_units"))
        .where(ActualSales.forecast_id == FORECAST_ID, ActualSales.week_number <= WEEK)
        .group_by(ActualSales.week_number)
        .cte("actual_weeks")
    )
    forecast_units = forecast_weeks.c.forecast_units
    actual_units = func.coalesce(actual_weeks.c.actual_units, 0)
    all_forecast = cast(func.sum(forecast_units).over(), BigInteger)
    all_actual = cast(func.sum(actual_units).over(), BigInteger)
    return (
        select(
            forecast_weeks.c.week_number,
            forecast_units,
            actual_units.label("actual_units"),
            (actual_units - forecast_units).label("variance_units"),
            ratio_or_null(actual_units - forecast_units, forecast_units).label("variance_pct"),
            all_forecast.label("all_forecast"),
            all_actual.label("all_actual"),
            ratio_or_null(all_actual - all_forecast, all_forecast).label("all_pct"),
        )
        .select_from(forecast_weeks)
        .outerjoin(actual_weeks, actual_weeks.c.week_number == forecast_weeks.c.week_number)
        .order_by(forecast_weeks.c.week_number)
    )


@functools.cache
def store_sell_through_statement(dialect: str, with_allocation: bool) -> Select[Any]:
    """Per store: units sold through :week and ``initial`` units of :allocation_id.

    The forecast's sales per store and the allocation's split entries are stacked
    (UNION ALL) and grouped by store, so a store in either side appears once, and a
    store only in the sales has no allocated units (SUM of NULLs is NULL).
    """
    # Summed per store first: the (forecast_id, store_id, week_number) index hands the
    # rows over in store order, so this groups without a sort, and the stack below
    # holds one row per store and side instead of one per sale.
    sales = (
        select(
            ActualSales.store_id.label("store_id"),
            total(ActualSales.units_sold).label("sold"),
            cast(null(), BigInteger).label("allocated"),
        )
        .where(ActualSales.forecast_id == FORECAST_ID, ActualSales.week_number <= WEEK)
        .group_by(ActualSales.store_id)
    )
    parts = [sales]
    if with_allocation:
        split = json_array_rows(Allocation.store_allocations, dialect, "split")
        parts.append(
            select(
                split.text("store_id").label("store_id"),
                literal(0, BigInteger).label("sold"),
                split.integer("initial").label("allocated"),
            )
            .select_from(Allocation)
            .join(split.rows, true())
            .where(Allocation.allocation_id == ALLOCATION_ID)
        )
    flows = union_all(*parts).subquery("flows")
    sold = func.coalesce(total(flows.c.sold), 0)
    allocated = total(flows.c.allocated)
    return (
        select(flows.c.store_id, sold, allocated, ratio_or_null(sold, allocated))
        .group_by(flows.c.store_id)
        .order_by(flows.c.store_id)
    )


def _weekly(
    session: Session, forecast_id: str, week: int
) -> tuple[list[WeekVariance], CumulativeVariance]:
    rows = session.execute(
        weekly_variance_statement(dialect_of(session)),
        {"forecast_id": forecast_id, "week": week},
    ).all()
    weeks = [
        WeekVariance(
            week_number=row.week_number,
            forecast_units=row.forecast_units,
            actual_units=row.actual_units,
            variance_units=row.variance_units,
            variance_pct=row.variance_pct,
        )
        for row in rows
    ]
    first = rows[0] if rows else None
    cumulative = CumulativeVariance(
        forecast_units=first.all_forecast if first else 0,
        actual_units=first.all_actual if first else 0,
        variance_units=(first.all_actual - first.all_forecast) if first else 0,
        variance_pct=first.all_pct if first else None,
    )
    return weeks, cumulative


def _per_store(
    session: Session, forecast_id: str, week: int, allocation_id: str | None
) -> list[StoreSellThrough]:
    statement = store_sell_through_statement(dialect_of(session), allocation_id is not None)
    rows = session.execute(
        statement, {"forecast_id": forecast_id, "week": week, "allocation_id": allocation_id}
    ).all()
    # One object per store on a hot path: the CASTs above already fix the types, so the
    # rows are not validated a second time.
    return [
        StoreSellThrough.model_construct(
            store_id=store_id,
            actual_units=actual,
            allocated_units=allocated,
            sell_through_pct=pct,
        )
        for store_id, actual, allocated, pct in rows
    ]
