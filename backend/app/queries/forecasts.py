"""Forecasts: the latest forecast of a category and season, with its curve and distribution."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.models import Forecast, ForecastClusterDistribution, StoreCluster
from backend.app.queries.errors import NotFound
from backend.app.queries.sql import newest_first
from backend.app.schemas.read_models import ClusterShare, CurvePoint, ForecastWithCurve


def latest_forecast(session: Session, category_id: str, season: str) -> ForecastWithCurve:
    """The newest forecast (created_at, ties to the greater forecast_id) of category and season.

    Its curve comes back in week order, its cluster distribution in cluster_id order.
    """
    forecast = session.scalars(
        select(Forecast)
        .where(Forecast.category_id == category_id, Forecast.season == season)
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
    curve = sorted(
        (CurvePoint.model_validate(point) for point in forecast.weekly_demand_curve),
        key=lambda point: point.week_number,
    )
    return ForecastWithCurve.from_source(
        forecast,
        models_used=list(forecast.models_used),
        curve=curve,
        distribution=[ClusterShare(**row._mapping) for row in shares],
    )
