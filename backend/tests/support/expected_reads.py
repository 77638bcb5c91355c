"""Expected answers for the read tests, computed in Python from whole tables.

They never go through ``backend.app.queries``: plain ``select(Model)`` and dicts only,
so a read and its expected answer cannot share a mistake.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.models import ActualSales, Allocation, Forecast


def all_rows(session: Session, model: type[Any]) -> list[Any]:
    return list(session.scalars(select(model)).all())


def newest_row(rows: list[Any], key: str) -> Any:
    """The row with the latest created_at (None oldest), ties to the greatest key."""
    floor = datetime.min.replace(tzinfo=UTC)
    return max(rows, key=lambda row: (row.created_at or floor, getattr(row, key)))


def rounded(value: Any) -> Any:
    """``value`` with every float rounded: the database and Python may differ in the last bit."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def pct(numerator: float, denominator: float | None) -> float | None:
    return None if not denominator else numerator / denominator


def expected_variance(
    db: Session, forecast: Forecast, week: int, sales: list[ActualSales] | None = None
) -> dict[str, Any]:
    """``ffdb variance --format json``'s object, computed from the raw rows.

    ``sales``: the forecast's actual_sales rows, if the caller has them already.
    """
    if sales is None:
        sales = [s for s in all_rows(db, ActualSales) if s.forecast_id == forecast.forecast_id]
    allocations = [a for a in all_rows(db, Allocation) if a.forecast_id == forecast.forecast_id]
    shipped: dict[str, int] = defaultdict(int)
    if allocations:
        for item in newest_row(allocations, "allocation_id").store_allocations:
            shipped[item["store_id"]] += item["initial"]
    curve = {p["week_number"]: p["demand_units"] for p in forecast.weekly_demand_curve}
    weeks = []
    for number in range(1, week + 1):
        planned = curve[number]
        rows = [s for s in sales if s.week_number == number]
        actual = sum(s.units_sold for s in rows) if rows else None
        weeks.append(
            {
                "week_number": number,
                "forecast_units": planned,
                "actual_units": actual,
                "variance_units": None if actual is None else actual - planned,
                "variance_pct": None if actual is None else pct(actual - planned, planned),
                "stores_reported": len(rows),
                "partial": bool(rows) and bool(set(shipped) - {s.store_id for s in rows}),
            }
        )
    reported = [w for w in weeks if w["actual_units"] is not None]
    planned_total = sum(w["forecast_units"] for w in reported)
    actual_total = sum(w["actual_units"] for w in reported)
    sold: dict[str, int] = defaultdict(int)
    for sale in sales:
        if sale.week_number <= week:
            sold[sale.store_id] += sale.units_sold
    stores = [
        {
            "store_id": store_id,
            "units_sold": sold.get(store_id, 0),
            "units_shipped": shipped.get(store_id),
            "sell_through_pct": pct(sold.get(store_id, 0), shipped.get(store_id)),
        }
        for store_id in sorted(set(sold) | set(shipped))
    ]
    return {
        "forecast_id": forecast.forecast_id,
        "week": week,
        "stores_allocated": len(shipped) if allocations else None,
        "weeks": weeks,
        "cumulative": {
            "weeks_reported": len(reported),
            "weeks_partial": sum(w["partial"] for w in reported),
            "forecast_units": planned_total,
            "actual_units": actual_total,
            "variance_units": actual_total - planned_total,
            "variance_pct": pct(actual_total - planned_total, planned_total),
        },
        "stores": stores,
    }
