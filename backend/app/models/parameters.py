"""season_parameters: the planning parameters extracted for a season (and category)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.enums import ExtractionConfidence, ReplenishmentStrategy, enum_type
from backend.app.models.types import UtcDateTime


class SeasonParameters(Base):
    __tablename__ = "season_parameters"

    parameter_id: Mapped[str] = mapped_column(String, primary_key=True)
    category_id: Mapped[str | None] = mapped_column(
        String, ForeignKey("categories.category_id"), nullable=True, index=True
    )
    forecast_horizon_weeks: Mapped[int] = mapped_column(Integer, nullable=False)
    season_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    season_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    replenishment_strategy: Mapped[ReplenishmentStrategy] = mapped_column(
        enum_type(ReplenishmentStrategy, "replenishment_strategy"), nullable=False
    )
    dc_holdback_percentage: Mapped[float] = mapped_column(Float, nullable=False)
    markdown_checkpoint_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    markdown_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    extraction_confidence: Mapped[ExtractionConfidence] = mapped_column(
        enum_type(ExtractionConfidence, "extraction_confidence"),
        nullable=False,
        default=ExtractionConfidence.MEDIUM,
        server_default=ExtractionConfidence.MEDIUM.value,
    )
    extraction_reasoning: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "forecast_horizon_weeks >= 1 AND forecast_horizon_weeks <= 52",
            name="forecast_horizon_weeks",
        ),
        CheckConstraint("season_end_date > season_start_date", name="season_dates"),
        CheckConstraint(
            "dc_holdback_percentage >= 0 AND dc_holdback_percentage <= 1",
            name="dc_holdback_percentage",
        ),
        CheckConstraint(
            "markdown_checkpoint_week IS NULL OR "
            "(markdown_checkpoint_week >= 1 AND markdown_checkpoint_week <= 12)",
            name="markdown_checkpoint_week",
        ),
        CheckConstraint(
            "markdown_threshold IS NULL OR (markdown_threshold >= 0 AND markdown_threshold <= 1)",
            name="markdown_threshold",
        ),
    )
