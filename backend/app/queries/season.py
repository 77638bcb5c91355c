"""A forecast's season: when it starts, how long it runs, and its markdown checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.models import Category, Forecast, SeasonParameters
from backend.app.queries.errors import NotFound
from backend.app.queries.sql import newest_first


@dataclass(frozen=True)
class ForecastSeason:
    forecast_id: str
    category_id: str
    category_name: str
    season_start_date: date
    horizon_weeks: int
    # From the category's latest season parameters; None when they name no checkpoint.
    markdown_checkpoint_week: int | None


def forecast_season(session: Session, forecast_id: str) -> ForecastSeason:
    """The season of ``forecast_id``'s category; NotFound for an unknown forecast."""
    row = session.execute(
        select(
            Forecast.category_id,
            Category.category_name,
            Category.season_start_date,
            Forecast.forecast_horizon_weeks,
        )
        .join(Category, Category.category_id == Forecast.category_id)
        .where(Forecast.forecast_id == forecast_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"forecast {forecast_id!r} does not exist")
    category_id, name, start, horizon = row
    checkpoint = session.execute(
        select(SeasonParameters.markdown_checkpoint_week)
        .where(SeasonParameters.category_id == category_id)
        .order_by(*newest_first(SeasonParameters.created_at, SeasonParameters.parameter_id))
        .limit(1)
    ).scalar()
    return ForecastSeason(forecast_id, category_id, name, start, int(horizon), checkpoint)
