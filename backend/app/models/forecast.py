"""forecasts: a season's demand forecast for a category, with its weekly curve as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.database.base import Base
from backend.app.models.keys import key_length_check
from backend.app.models.types import UtcDateTime, json_list
from backend.app.schemas.payloads import validate_models_used, validate_weekly_demand_curve

if TYPE_CHECKING:
    from backend.app.models.allocation import Allocation
    from backend.app.models.category import Category
    from backend.app.models.forecast_cluster_distribution import ForecastClusterDistribution
    from backend.app.models.markdown import Markdown

DEFAULT_FORECASTING_METHOD = "ensemble_prophet_arima"


class Forecast(Base):
    __tablename__ = "forecasts"

    forecast_id: Mapped[str] = mapped_column(String, primary_key=True)
    category_id: Mapped[str] = mapped_column(
        String, ForeignKey("categories.category_id"), nullable=False, index=True
    )
    season: Mapped[str] = mapped_column(String, nullable=False)
    forecast_horizon_weeks: Mapped[int] = mapped_column(Integer, nullable=False)
    total_season_demand: Mapped[int] = mapped_column(Integer, nullable=False)
    # [{"week_number": 1, "demand_units": 500}, ...]
    weekly_demand_curve: Mapped[list[dict[str, Any]]] = mapped_column(
        json_list(validate_weekly_demand_curve), nullable=False
    )
    peak_week: Mapped[int] = mapped_column(Integer, nullable=False)
    forecasting_method: Mapped[str] = mapped_column(
        String,
        nullable=False,
        default=DEFAULT_FORECASTING_METHOD,
        server_default=DEFAULT_FORECASTING_METHOD,
    )
    # ["prophet", "arima"]
    models_used: Mapped[list[str]] = mapped_column(json_list(validate_models_used), nullable=False)
    prophet_forecast: Mapped[int | None] = mapped_column(Integer, nullable=True)
    arima_forecast: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())
    # A re-forecast revises another forecast from ``from_week`` on: its curve covers
    # weeks from_week..forecast_horizon_weeks; the forecast it revises stays unchanged.
    revises_forecast_id: Mapped[str | None] = mapped_column(
        String, ForeignKey("forecasts.forecast_id"), nullable=True, index=True
    )
    from_week: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    category: Mapped[Category] = relationship()
    cluster_distribution: Mapped[list[ForecastClusterDistribution]] = relationship(
        back_populates="forecast"
    )
    allocations: Mapped[list[Allocation]] = relationship(back_populates="forecast")
    markdowns: Mapped[list[Markdown]] = relationship(back_populates="forecast")

    __table_args__ = (
        CheckConstraint("total_season_demand >= 0", name="total_demand"),
        CheckConstraint("forecast_horizon_weeks >= 1", name="forecast_horizon_weeks"),
        CheckConstraint("peak_week >= 1 AND peak_week <= forecast_horizon_weeks", name="peak_week"),
        CheckConstraint("from_week >= 1 AND from_week <= forecast_horizon_weeks", name="from_week"),
        # An original covers the whole season; a revision starts after week 1 (and,
        # by the write API, after the forecast it revises), so ordering forecasts by
        # from_week puts every forecast before the revisions of it.
        CheckConstraint(
            "(revises_forecast_id IS NULL) = (from_week = 1)", name="revision_from_week"
        ),
        CheckConstraint(
            "revises_forecast_id IS NULL OR revises_forecast_id <> forecast_id",
            name="revises_another",
        ),
        key_length_check("revises_forecast_id", nullable=True),
    )
