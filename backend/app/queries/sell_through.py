"""Sell-through to date against a target: the input of a markdown decision.

sell_through_pct = units sold through week N / units allocated, where units allocated
are the latest allocation's initial_allocation_total + holdback_total: all the stock
of the season, in stores and held back. Against that base sell-through stays within
0..1 as the markdowns table requires, whatever replenishment moved between stores.
gap_pct = target - sell_through_pct, as a markdown row records it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from backend.app.models import ActualSales, Allocation
from backend.app.models.markdown import DEFAULT_TARGET_SELL_THROUGH
from backend.app.queries.errors import InvalidReadArgument, NotFound
from backend.app.queries.sql import ratio_or_null, total
from backend.app.queries.variance import check_week, forecast_horizon
from backend.app.schemas.read_models import SellThroughToDate


def sell_through_to_date(
    session: Session,
    forecast_id: str,
    week: int,
    target_sell_through_pct: float = DEFAULT_TARGET_SELL_THROUGH,
) -> SellThroughToDate:
    """Units sold through ``week`` over the latest allocation's units, and the gap to target."""
    if not 0 <= target_sell_through_pct <= 1:
        raise InvalidReadArgument(
            f"target_sell_through_pct {target_sell_through_pct} is outside 0..1"
        )
    horizon, allocation_id = forecast_horizon(session, forecast_id)
    check_week(forecast_id, week, horizon)
    if allocation_id is None:
        raise NotFound(f"forecast {forecast_id!r} has no allocation to measure sell-through by")
    sold = (
        select(func.coalesce(total(ActualSales.units_sold), 0))
        .where(ActualSales.forecast_id == forecast_id, ActualSales.week_number <= week)
        .scalar_subquery()
    )
    allocated = cast(Allocation.initial_allocation_total + Allocation.holdback_total, BigInteger)
    row = session.execute(
        select(
            sold.label("units_sold"),
            allocated.label("units_allocated"),
            ratio_or_null(sold, allocated).label("sell_through_pct"),
        ).where(Allocation.allocation_id == allocation_id)
    ).one()
    pct = row.sell_through_pct
    return SellThroughToDate(
        forecast_id=forecast_id,
        week=week,
        allocation_id=allocation_id,
        units_sold=row.units_sold,
        units_allocated=row.units_allocated,
        sell_through_pct=pct,
        target_sell_through_pct=target_sell_through_pct,
        gap_pct=None if pct is None else target_sell_through_pct - pct,
    )
