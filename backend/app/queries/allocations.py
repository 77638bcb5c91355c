"""Allocations: the per-store split of a forecast's units, joined to the stores."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, select, true
from sqlalchemy.orm import Session

from backend.app.maintenance import definitions
from backend.app.maintenance.json_rows import json_array_rows
from backend.app.models import Allocation, Store
from backend.app.queries.errors import NotFound
from backend.app.queries.forecasts import revision_chain
from backend.app.queries.sql import dialect_of
from backend.app.schemas.read_models import AllocatedStore, AllocationWithStores


def latest_allocation_id(session: Session, forecast_id: str) -> str | None:
    """The forecast's newest allocation (by created_at, then allocation_id), if any."""
    return definitions.latest_allocation_id(session, forecast_id)


def allocation_of_forecast(session: Session, forecast_id: str) -> AllocationWithStores:
    """The allocation a forecast's stock went out by: its latest allocation, or for a
    re-forecast without one, the latest allocation of the forecast it revises (and so on
    back to the season's original)."""
    allocation_id = stock_allocation_id(session, revision_chain(session, forecast_id))
    if allocation_id is None:
        raise NotFound(f"forecast {forecast_id!r} has no allocation")
    return allocation_with_stores(session, allocation_id)


def stock_allocation_id(session: Session, chain: Sequence[str]) -> str | None:
    """The allocation the first forecast of ``chain`` (a ``revision_chain``) sent its
    stock out by: the latest allocation of the first forecast along it that has one."""
    for forecast_id in chain:
        allocation_id = definitions.latest_allocation_id(session, forecast_id)
        if allocation_id is not None:
            return allocation_id
    return None


def allocation_with_stores(session: Session, allocation_id: str) -> AllocationWithStores:
    """An allocation and its ``store_allocations`` expanded in the database, with store attributes.

    Entries are in store_id order. An entry naming a store that does not exist (which
    the domain rules refuse, but a raw write could leave) is kept, with None attributes.
    """
    allocation = session.get(Allocation, allocation_id)
    if allocation is None:
        raise NotFound(f"allocation {allocation_id!r} does not exist")
    split = json_array_rows(Allocation.store_allocations, dialect_of(session), "split")
    store_id = split.text("store_id").label("store_id")
    rows = session.execute(
        select(
            store_id,
            split.integer("initial").label("initial"),
            split.integer("holdback").label("holdback"),
            Store.store_name,
            Store.cluster_id,
            Store.location_tier,
            Store.store_format,
            Store.region,
            Store.store_size_sqft,
        )
        .select_from(Allocation)
        .join(split.rows, true())
        .outerjoin(Store, and_(Store.store_id == split.text("store_id")))
        .where(Allocation.allocation_id == allocation_id)
        .order_by(store_id)
    ).all()
    return AllocationWithStores.from_source(
        allocation,
        stores=[AllocatedStore(**row._mapping) for row in rows],
    )
