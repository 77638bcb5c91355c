"""The weekly historical sales series of a category: one store, one cluster, or all stores.

Units are summed per week_start_date in the database. The plans use the indexes:
one store reads (store_id, category_id, ...); a cluster walks its stores
(ix_stores_cluster_id) and reads each store's rows by (store_id, category_id); all
stores read ix_historical_sales_category_id.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.app.models import Category, HistoricalSales, Store, StoreCluster
from backend.app.queries.errors import InvalidReadArgument, NotFound
from backend.app.queries.sql import total
from backend.app.schemas.read_models import HistorySeries, WeeklyUnits


def weekly_history_query(
    category_id: str, *, store_id: str | None = None, cluster_id: str | None = None
) -> Select[date, int]:
    """The statement behind ``weekly_history`` (exposed so its plan can be inspected)."""
    if store_id is not None and cluster_id is not None:
        raise InvalidReadArgument(
            f"give a store ({store_id!r}) or a cluster ({cluster_id!r}), not both"
        )
    statement = select(
        HistoricalSales.week_start_date, total(HistoricalSales.units_sold).label("units_sold")
    ).where(HistoricalSales.category_id == category_id)
    if store_id is not None:
        statement = statement.where(HistoricalSales.store_id == store_id)
    elif cluster_id is not None:
        statement = statement.join(Store, Store.store_id == HistoricalSales.store_id).where(
            Store.cluster_id == cluster_id
        )
    return statement.group_by(HistoricalSales.week_start_date).order_by(
        HistoricalSales.week_start_date
    )


def weekly_history(
    session: Session,
    category_id: str,
    *,
    store_id: str | None = None,
    cluster_id: str | None = None,
) -> HistorySeries:
    """Units sold per week (ascending week_start_date) of the category, for the scope given."""
    statement = weekly_history_query(category_id, store_id=store_id, cluster_id=cluster_id)
    for model, key, label in (
        (Category, category_id, "category"),
        (Store, store_id, "store"),
        (StoreCluster, cluster_id, "store cluster"),
    ):
        if key is not None and session.get(model, key) is None:
            raise NotFound(f"{label} {key!r} does not exist")
    rows = session.execute(statement).all()
    return HistorySeries(
        category_id=category_id,
        store_id=store_id,
        cluster_id=cluster_id,
        weeks=[WeeklyUnits(week_start_date=day, units_sold=units) for day, units in rows],
    )
