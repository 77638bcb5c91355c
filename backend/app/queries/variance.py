"""Variance of a forecast against actual sales through a week, computed in the database.

For forecast F and week N, three statements, each answered by the database:

1. the forecast's horizon and its latest allocation (one primary-key lookup);
2. per week 1..N: forecast units from the JSON curve (``json_each`` /
   ``jsonb_array_elements``) left-joined to the week's actual sales: their sum, how
   many stores reported, and how many of those the allocation ships to;
3. per store: sell-through through week N, by the one definition
   (``backend.app.maintenance.definitions.sell_through``).

A re-forecast from week k is measured on its own weeks k..N, against the actual sales
stored with the season's original forecast (the one its chain of revisions starts
from), and its stores against the allocation its stock went out by (its own latest,
else the forecast it revises'); the original's variance is unchanged by a revision.

Missing is not zero: a week without a single actual_sales row has no actual units
and no variance (None, JSON ``null``), and the cumulative figures cover only the
weeks that have actuals (``weeks_reported``). A week in which some stores of the
allocation have no row is ``partial``; without an allocation no week is called partial.

actual_sales is only read through ``idx_actual_sales_forecast_week`` (forecast_id,
week_number) or the (forecast_id, store_id, week_number) unique index, so the cost
follows the forecast's own rows, not the size of the table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from typing import cast as cast_type

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    case,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session

from backend.app.maintenance import definitions, health
from backend.app.maintenance.definitions import FORECAST_ID, WEEK
from backend.app.maintenance.json_rows import json_array_rows
from backend.app.models import ActualSales, Allocation, Forecast
from backend.app.queries.allocations import stock_allocation_id
from backend.app.queries.errors import DamagedRows, InvalidReadArgument, NotFound
from backend.app.queries.forecasts import revision_chain
from backend.app.queries.sql import dialect_of, total
from backend.app.schemas.read_models import (
    CumulativeVariance,
    StoreSellThrough,
    VarianceReport,
    WeekVariance,
)


@dataclass(frozen=True)
class Measured:
    """What a forecast's variance is measured on."""

    horizon: int
    from_week: int
    allocation_id: str | None
    actuals_forecast_id: str  # the forecast its actual sales are stored against


def refuse_damaged_rows(session: Session, forecast_id: str) -> None:
    """DamagedRows if a row of the forecast, its allocations or its actual sales holds a
    value of the wrong type (``'abc'`` units): summing it would count it as 0."""
    connection = session.connection()
    for model in (Forecast, Allocation, ActualSales):
        table = cast_type(Table, model.__table__)
        found = health.storage_type_damage(
            connection, table, where=table.c.forecast_id == forecast_id, limit=3
        )
        if found:
            shown = "; ".join(f"{key}: {detail}" for key, detail in found[:3])
            raise DamagedRows(
                f"forecast {forecast_id!r}: {table.name} rows hold values of the wrong type "
                f"({shown}); `ffdb doctor` lists them all"
            )


def _forecast_row(session: Session, forecast_id: str) -> Any:
    row = session.execute(_horizon_statement(), {"forecast_id": forecast_id}).one_or_none()
    if row is None:
        raise NotFound(f"forecast {forecast_id!r} does not exist")
    return row


def measured_on(session: Session, forecast_id: str) -> Measured:
    """Horizon, weeks and allocation of the forecast; for a re-forecast, the original's
    actual sales and the latest allocation along the chain of revisions."""
    chain = revision_chain(session, forecast_id)
    horizon, allocation_id, from_week, _ = _forecast_row(session, forecast_id)
    if allocation_id is None:
        allocation_id = stock_allocation_id(session, chain[1:])
    return Measured(int(horizon), int(from_week), allocation_id, chain[-1])


def check_week(forecast_id: str, week: int, horizon: int, from_week: int = 1) -> None:
    if not from_week <= week <= horizon:
        covers = "horizon" if from_week == 1 else "re-forecast weeks"
        raise InvalidReadArgument(
            f"week {week} is outside forecast {forecast_id!r}'s {covers} {from_week}..{horizon}"
        )


def forecast_variance(session: Session, forecast_id: str, week: int) -> VarianceReport:
    """Forecast against actual units for weeks 1..``week`` (a re-forecast: from_week..week),
    cumulative, and per store."""
    measured = measured_on(session, forecast_id)
    allocation_id = measured.allocation_id
    check_week(forecast_id, week, measured.horizon, measured.from_week)
    for measured_id in dict.fromkeys((forecast_id, measured.actuals_forecast_id)):
        refuse_damaged_rows(session, measured_id)
    flows = definitions.sell_through(
        session, measured.actuals_forecast_id, week, allocation_id=allocation_id
    )
    allocated = (
        None
        if allocation_id is None
        else sum(store.units_shipped is not None for store in flows.stores)
    )
    weeks = _weekly(
        session, forecast_id, measured.actuals_forecast_id, week, allocation_id, allocated
    )
    return VarianceReport(
        forecast_id=forecast_id,
        week=week,
        from_week=measured.from_week,
        actuals_forecast_id=measured.actuals_forecast_id,
        allocation_id=allocation_id,
        stores_allocated=allocated,
        weeks=weeks,
        cumulative=cumulative_variance(weeks),
        stores=[
            StoreSellThrough.model_construct(
                store_id=store.store_id,
                units_sold=store.units_sold,
                units_shipped=store.units_shipped,
                sell_through_pct=store.sell_through_pct,
            )
            for store in flows.stores
        ],
    )


# The forecast whose actual sales a variance reads (a re-forecast's original).
ACTUALS_FORECAST_ID = bindparam("actuals_forecast_id", type_=String)

# The statements are built once per dialect with bound parameters: an agent polling
# variance pays for SQL execution, not for rebuilding the same SQL in Python.


@functools.cache
def _horizon_statement() -> Select[Any]:
    latest = definitions.latest_allocation_id_query(FORECAST_ID).limit(1).scalar_subquery()
    return select(
        Forecast.forecast_horizon_weeks, latest, Forecast.from_week, Forecast.revises_forecast_id
    ).where(Forecast.forecast_id == FORECAST_ID)


@functools.cache
def weekly_variance_statement(dialect: str, with_allocation: bool) -> Select[Any]:
    """Per week of :forecast_id's curve up to :week: forecast units, and the week's actual
    units (stored against :actuals_forecast_id), the stores that reported and how many
    of them allocation :allocation_id ships to."""
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
    if with_allocation:
        shipped_to = select(definitions.allocated_stores_query(dialect).subquery().c.store_id)
        allocated_reported: ColumnElement[Any] = func.sum(
            case((ActualSales.store_id.in_(shipped_to), 1), else_=0)
        )
    else:
        allocated_reported = func.count()
    actual_weeks = (
        select(
            ActualSales.week_number,
            total(ActualSales.units_sold).label("actual_units"),
            cast(func.count(), Integer).label("stores_reported"),
            cast(allocated_reported, Integer).label("allocated_reported"),
        )
        .where(ActualSales.forecast_id == ACTUALS_FORECAST_ID, ActualSales.week_number <= WEEK)
        .group_by(ActualSales.week_number)
        .cte("actual_weeks")
    )
    return (
        select(
            forecast_weeks.c.week_number,
            cast(forecast_weeks.c.forecast_units, BigInteger),
            actual_weeks.c.actual_units,
            func.coalesce(actual_weeks.c.stores_reported, 0),
            func.coalesce(actual_weeks.c.allocated_reported, 0),
        )
        .select_from(forecast_weeks)
        .outerjoin(actual_weeks, actual_weeks.c.week_number == forecast_weeks.c.week_number)
        .order_by(forecast_weeks.c.week_number)
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _weekly(
    session: Session,
    forecast_id: str,
    actuals_forecast_id: str,
    week: int,
    allocation_id: str | None,
    allocated: int | None,
) -> list[WeekVariance]:
    rows = session.execute(
        weekly_variance_statement(dialect_of(session), allocation_id is not None),
        {
            "forecast_id": forecast_id,
            "actuals_forecast_id": actuals_forecast_id,
            "week": week,
            "allocation_id": allocation_id,
        },
    ).all()
    weeks = []
    for number, planned, actual, reported, allocated_reported in rows:
        missing = actual is None
        weeks.append(
            WeekVariance(
                week_number=number,
                forecast_units=planned,
                actual_units=actual,
                variance_units=None if missing else actual - planned,
                variance_pct=None if missing else _ratio(actual - planned, planned),
                stores_reported=reported,
                partial=not missing and allocated is not None and allocated_reported < allocated,
            )
        )
    return weeks


def cumulative_variance(weeks: list[WeekVariance]) -> CumulativeVariance:
    """Totals over the weeks that have actuals: a missing week is not a week of zero sales."""
    reported = [week for week in weeks if week.actual_units is not None]
    planned = sum(week.forecast_units for week in reported)
    actual = sum(week.actual_units or 0 for week in reported)
    return CumulativeVariance(
        weeks_reported=len(reported),
        weeks_partial=sum(week.partial for week in reported),
        forecast_units=planned,
        actual_units=actual,
        variance_units=actual - planned,
        variance_pct=_ratio(actual - planned, planned),
    )
