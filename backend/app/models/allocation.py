"""allocations: manufacturing quantity, holdback and the per-store split (JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.database.base import Base
from backend.app.models.types import UtcDateTime, json_list
from backend.app.schemas.payloads import validate_store_allocations

if TYPE_CHECKING:
    from backend.app.models.forecast import Forecast

DEFAULT_SAFETY_STOCK_PERCENTAGE = 0.20


class Allocation(Base):
    __tablename__ = "allocations"

    allocation_id: Mapped[str] = mapped_column(String, primary_key=True)
    forecast_id: Mapped[str] = mapped_column(
        String, ForeignKey("forecasts.forecast_id"), nullable=False, index=True
    )
    manufacturing_qty: Mapped[int] = mapped_column(Integer, nullable=False)
    safety_stock_percentage: Mapped[float] = mapped_column(
        Float,
        nullable=False,
        default=DEFAULT_SAFETY_STOCK_PERCENTAGE,
        server_default=str(DEFAULT_SAFETY_STOCK_PERCENTAGE),
    )
    initial_allocation_total: Mapped[int] = mapped_column(Integer, nullable=False)
    holdback_total: Mapped[int] = mapped_column(Integer, nullable=False)
    # [{"store_id": "S01", "initial": 176, "holdback": 142}, ...]
    store_allocations: Mapped[list[dict[str, Any]]] = mapped_column(
        json_list(validate_store_allocations), nullable=False
    )
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    forecast: Mapped[Forecast] = relationship(back_populates="allocations")

    __table_args__ = (
        CheckConstraint("manufacturing_qty >= 0", name="manufacturing_qty"),
        CheckConstraint("initial_allocation_total >= 0", name="initial_allocation"),
        CheckConstraint("holdback_total >= 0", name="holdback"),
        CheckConstraint(
            "safety_stock_percentage >= 0 AND safety_stock_percentage <= 1",
            name="safety_stock_percentage",
        ),
    )
