"""forecast_cluster_distribution: how a forecast's units split across store clusters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.database.base import Base
from backend.app.models.types import UtcDateTime

if TYPE_CHECKING:
    from backend.app.models.forecast import Forecast
    from backend.app.models.store_cluster import StoreCluster


class ForecastClusterDistribution(Base):
    __tablename__ = "forecast_cluster_distribution"

    distribution_id: Mapped[str] = mapped_column(String, primary_key=True)
    # Indexed by the leading column of the (forecast_id, cluster_id) unique key.
    forecast_id: Mapped[str] = mapped_column(
        String, ForeignKey("forecasts.forecast_id"), nullable=False
    )
    cluster_id: Mapped[str] = mapped_column(
        String, ForeignKey("store_clusters.cluster_id"), nullable=False, index=True
    )
    allocation_percentage: Mapped[float] = mapped_column(Float, nullable=False)
    total_units: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    forecast: Mapped[Forecast] = relationship(back_populates="cluster_distribution")
    cluster: Mapped[StoreCluster] = relationship()

    __table_args__ = (
        CheckConstraint(
            "allocation_percentage >= 0 AND allocation_percentage <= 1", name="allocation_pct"
        ),
        CheckConstraint("total_units >= 0", name="total_units"),
        UniqueConstraint("forecast_id", "cluster_id"),
    )
