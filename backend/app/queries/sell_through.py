"""Sell-through to date against a target: the input of a markdown decision.

sell_through_pct = units sold in weeks 1..N / units shipped to the stores, by the one
definition every path uses (``backend.app.maintenance.definitions.sell_through``);
gap_pct = target - sell_through_pct, as a markdown row records it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.app.maintenance import definitions
from backend.app.models.markdown import DEFAULT_TARGET_SELL_THROUGH
from backend.app.queries.errors import InvalidReadArgument, NotFound
from backend.app.queries.variance import check_week, measured_on, refuse_damaged_rows
from backend.app.schemas.read_models import SellThroughToDate


def sell_through_to_date(
    session: Session,
    forecast_id: str,
    week: int,
    target_sell_through_pct: float = DEFAULT_TARGET_SELL_THROUGH,
) -> SellThroughToDate:
    """Units sold through ``week`` over the units shipped to the stores, and the gap to target."""
    if not 0 <= target_sell_through_pct <= 1:
        raise InvalidReadArgument(
            f"target_sell_through_pct {target_sell_through_pct} is outside 0..1"
        )
    # Sell-through is the season's to date: a re-forecast is measured, as its variance
    # is, on the original's actual sales and the latest allocation along its revisions.
    on = measured_on(session, forecast_id)
    check_week(forecast_id, week, on.horizon)
    refuse_damaged_rows(session, on.actuals_forecast_id)
    allocation_id = on.allocation_id
    if allocation_id is None:
        raise NotFound(f"forecast {forecast_id!r} has no allocation to measure sell-through by")
    measured = definitions.sell_through(
        session, on.actuals_forecast_id, week, target_sell_through_pct, allocation_id=allocation_id
    )
    return SellThroughToDate(
        forecast_id=forecast_id,
        week=week,
        allocation_id=allocation_id,
        units_sold=measured.units_sold,
        units_shipped=measured.units_shipped,
        sell_through_pct=measured.sell_through_pct,
        target_sell_through_pct=target_sell_through_pct,
        gap_pct=measured.gap_pct,
    )
