"""actual_sales: units sold per store and season week against a forecast."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.types import UtcDateTime


class ActualSales(Base):
    __tablename__ = "actual_sales"

    actual_id: Mapped[str] = mapped_column(String, primary_key=True)
    store_id: Mapped[str] = mapped_column(
        String, ForeignKey("stores.store_id"), nullable=False, index=True
    )
    forecast_id: Mapped[str] = mapped_column(
        String, ForeignKey("forecasts.forecast_id"), nullable=False
    )
    week_number: Mapped[int] = mapped_column(Integer, nullable=False)
    units_sold: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint("week_number >= 1 AND week_number <= 12", name="week_number"),
        CheckConstraint("units_sold >= 0", name="units_sold"),
        UniqueConstraint("forecast_id", "store_id", "week_number"),
        Index("idx_actual_sales_forecast_week", "forecast_id", "week_number"),
    )
