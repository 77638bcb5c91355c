"""historical_sales: weekly units sold per store and category, the forecast's input."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.types import UtcDateTime


class HistoricalSales(Base):
    __tablename__ = "historical_sales"

    sale_id: Mapped[str] = mapped_column(String, primary_key=True)
    store_id: Mapped[str] = mapped_column(String, ForeignKey("stores.store_id"), nullable=False)
    category_id: Mapped[str] = mapped_column(
        String, ForeignKey("categories.category_id"), nullable=False, index=True
    )
    week_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    units_sold: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint("units_sold >= 0", name="units_sold"),
        UniqueConstraint("store_id", "category_id", "week_start_date"),
        Index("idx_historical_sales_store_category", "store_id", "category_id"),
        Index("idx_historical_sales_date", "week_start_date"),
    )
