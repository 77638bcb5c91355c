"""Variance of a forecast against actual sales through a week, computed in the database.

For forecast F and week N, three statements, each answered by the database:

1. the forecast's horizon and its latest allocation (one primary-key lookup);
2. per week 1..N: forecast units from the JSON curve (``json_each`` /
   ``jsonb_array_elements``) left-joined to SUM(actual_sales.units_sold) grouped by
   week, with the cumulative totals as window sums over the same rows;
3. per store: SUM(units_sold) through week N, against the store's ``initial`` units
   in the latest allocation's JSON split.

actual_sales is only read through ``idx_actual_sales_forecast_week`` (forecast_id,
week_number) or the (forecast_id, store_id, week_number) unique index, so the cost
follows the forecast's own rows, not the size of the table.

Allocated units per store are the store's ``initial`` allocation: the units it received
at the start of the season. Holdback sits in the distribution centre and is not the
store's until replenished, which the schema does not record per week.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, cast, func, literal, null, select, true, union
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
    latest = latest_allocation_id_query(forecast_id).limit(1).scalar_subquery()
    row = session.execute(
        select(Forecast.forecast_horizon_weeks, latest).where(Forecast.forecast_id == forecast_id)
    ).one_or_none()
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


def _weekly(
    session: Session, forecast_id: str, week: int
) -> tuple[list[WeekVariance], CumulativeVariance]:
    curve = json_array_rows(Forecast.weekly_demand_curve, dialect_of(session), "curve")
    curve_week = curve.integer("week_number")
    forecast_weeks = (
        select(
            curve_week.label("week_number"),
            curve.integer("demand_units").label("forecast_units"),
        )
        .select_from(Forecast)
        .join(curve.rows, true())
        .where(Forecast.forecast_id == forecast_id, curve_week <= week)
        .cte("forecast_weeks")
    )
    actual_weeks = (
        select(ActualSales.week_number, total(ActualSales.units_sold).label("actual_units"))
        .where(ActualSales.forecast_id == forecast_id, ActualSales.week_number <= week)
        .group_by(ActualSales.week_number)
        .cte("actual_weeks")
    )
    forecast_units = forecast_weeks.c.forecast_units
    actual_units = func.coalesce(actual_weeks.c.actual_units, 0)
    all_forecast = cast(func.sum(forecast_units).over(), BigInteger)
    all_actual = cast(func.sum(actual_units).over(), BigInteger)
    rows = session.execute(
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
    sold = (
        select(ActualSales.store_id, total(ActualSales.units_sold).label("actual_units"))
        .where(ActualSales.forecast_id == forecast_id, ActualSales.week_number <= week)
        .group_by(ActualSales.store_id)
        .cte("sold")
    )
    split = json_array_rows(Allocation.store_allocations, dialect_of(session), "split")
    split_store = split.text("store_id")
    allocated = (
        select(split_store.label("store_id"), total(split.integer("initial")).label("units"))
        .select_from(Allocation)
        .join(split.rows, true())
        # No allocation: a NULL id matches no row, so every store's allocation is NULL.
        .where(Allocation.allocation_id == (literal(allocation_id) if allocation_id else null()))
        .group_by(split_store)
        .cte("allocated")
    )
    stores = union(select(sold.c.store_id), select(allocated.c.store_id)).cte("store_keys")
    actual_units = func.coalesce(sold.c.actual_units, 0)
    rows = session.execute(
        select(
            stores.c.store_id,
            actual_units.label("actual_units"),
            allocated.c.units.label("allocated_units"),
            ratio_or_null(actual_units, allocated.c.units).label("sell_through_pct"),
        )
        .select_from(stores)
        .outerjoin(sold, sold.c.store_id == stores.c.store_id)
        .outerjoin(allocated, allocated.c.store_id == stores.c.store_id)
        .order_by(stores.c.store_id)
    ).all()
    return [StoreSellThrough.model_validate(row._mapping) for row in rows]
