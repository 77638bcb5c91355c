"""Forecasts: by id, the latest of a category and season, and a category's page by page.

A re-forecast revises another forecast from a week on (``revises_forecast_id``,
``from_week``); the forecast it revises stays. "The latest forecast" is the newest
forecast that no other forecast revises, so after a re-forecast it is the revision.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from backend.app.models import Category, Forecast, ForecastClusterDistribution, Store, StoreCluster
from backend.app.queries.errors import NotFound
from backend.app.queries.paging import check_limit, page_of
from backend.app.queries.sql import newest_first
from backend.app.schemas.read_models import (
    ClusterDistribution,
    ClusterShare,
    CurvePoint,
    ForecastDetail,
    ForecastSummary,
    ForecastWithCurve,
    Page,
)

DEFAULT_PAGE_SIZE = 50


def _not_revised() -> ColumnElement[bool]:
    revision = aliased(Forecast)
    return ~exists().where(revision.revises_forecast_id == Forecast.forecast_id)


def _curve(forecast: Forecast) -> list[CurvePoint]:
    return sorted(
        (CurvePoint.model_validate(point) for point in forecast.weekly_demand_curve),
        key=lambda point: point.week_number,
    )


def latest_forecast(session: Session, category_id: str, season: str) -> ForecastWithCurve:
    """The newest forecast of category and season that no re-forecast revises (created_at,
    ties to the greater forecast_id): after a re-forecast, the revision.

    Its curve comes back in week order, its cluster distribution in cluster_id order.
    """
    forecast = session.scalars(
        select(Forecast)
        .where(Forecast.category_id == category_id, Forecast.season == season, _not_revised())
        .order_by(*newest_first(Forecast.created_at, Forecast.forecast_id))
        .limit(1)
    ).first()
    if forecast is None:
        raise NotFound(f"no forecast of category {category_id!r} for season {season!r}")
    shares = session.execute(
        select(
            ForecastClusterDistribution.cluster_id,
            StoreCluster.cluster_name,
            ForecastClusterDistribution.allocation_percentage,
            ForecastClusterDistribution.total_units,
        )
        .join(StoreCluster, StoreCluster.cluster_id == ForecastClusterDistribution.cluster_id)
        .where(ForecastClusterDistribution.forecast_id == forecast.forecast_id)
        .order_by(ForecastClusterDistribution.cluster_id)
    ).all()
    return ForecastWithCurve.from_source(
        forecast,
        models_used=list(forecast.models_used),
        curve=_curve(forecast),
        distribution=[ClusterShare(**row._mapping) for row in shares],
    )


def forecast_curve(session: Session, forecast_id: str) -> list[CurvePoint]:
    """The forecast's weekly demand curve, in week order."""
    forecast = session.get(Forecast, forecast_id)
    if forecast is None:
        raise NotFound(f"forecast {forecast_id!r} does not exist")
    return _curve(forecast)


def forecast_by_id(session: Session, forecast_id: str) -> ForecastDetail:
    """A forecast with its curve (week order), its cluster distribution (cluster_id
    order) with each cluster's store count, and the ids of its re-forecasts."""
    forecast = session.get(Forecast, forecast_id)
    if forecast is None:
        raise NotFound(f"forecast {forecast_id!r} does not exist")
    stores = (
        select(Store.cluster_id, func.count().label("store_count"))
        .group_by(Store.cluster_id)
        .subquery("stores_per_cluster")
    )
    shares = session.execute(
        select(
            ForecastClusterDistribution.cluster_id,
            StoreCluster.cluster_name,
            ForecastClusterDistribution.allocation_percentage,
            ForecastClusterDistribution.total_units,
            func.coalesce(stores.c.store_count, 0).label("store_count"),
        )
        .join(StoreCluster, StoreCluster.cluster_id == ForecastClusterDistribution.cluster_id)
        .outerjoin(stores, stores.c.cluster_id == ForecastClusterDistribution.cluster_id)
        .where(ForecastClusterDistribution.forecast_id == forecast_id)
        .order_by(ForecastClusterDistribution.cluster_id)
    ).all()
    revised_by = session.scalars(
        select(Forecast.forecast_id)
        .where(Forecast.revises_forecast_id == forecast_id)
        .order_by(Forecast.forecast_id)
    ).all()
    return ForecastDetail.from_source(
        forecast,
        models_used=list(forecast.models_used),
        revised_by=list(revised_by),
        curve=_curve(forecast),
        distribution=[ClusterDistribution(**row._mapping) for row in shares],
    )


def forecasts_of_category(
    session: Session,
    category_id: str,
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[ForecastSummary]:
    """The category's forecasts (re-forecasts included) with forecast_id greater than
    ``after``, at most ``limit``, in forecast_id order; read through ix_forecasts_category_id."""
    check_limit(limit)
    if session.get(Category, category_id) is None:
        raise NotFound(f"category {category_id!r} does not exist")
    condition = Forecast.category_id == category_id
    if after is not None:
        condition = and_(condition, Forecast.forecast_id > after)
    rows = session.scalars(
        select(Forecast).where(condition).order_by(Forecast.forecast_id).limit(limit + 1)
    ).all()
    return page_of(
        [ForecastSummary.model_validate(row) for row in rows],
        limit,
        key=lambda forecast: forecast.forecast_id,
    )


def revision_chain(session: Session, forecast_id: str) -> list[str]:
    """``forecast_id``, the forecast it revises, and so on back to the season's original
    (the last): the one walk of a re-forecast's revisions. NotFound if a forecast of the
    chain does not exist; a damaged chain that loops ends before it repeats a forecast."""
    chain = [forecast_id]
    while True:
        row = session.execute(
            select(Forecast.revises_forecast_id).where(Forecast.forecast_id == chain[-1])
        ).one_or_none()
        if row is None:
            raise NotFound(f"forecast {chain[-1]!r} does not exist")
        parent = row.revises_forecast_id
        if parent is None or parent in chain:
            return chain
        chain.append(parent)


def season_forecast_id(session: Session, forecast_id: str) -> str:
    """The original forecast a re-forecast (chain) revises; the forecast itself if it
    revises none. Actual sales and markdowns are stored against it."""
    return revision_chain(session, forecast_id)[-1]
