"""stores: the stores and their seven attributes.

The column order is the story's: its raw ``INSERT INTO stores VALUES (...)`` is positional.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.database.base import Base
from backend.app.models.enums import LocationTier, Region, StoreFormat, enum_type
from backend.app.models.types import UtcDateTime

if TYPE_CHECKING:
    from backend.app.models.store_cluster import StoreCluster


class Store(Base):
    __tablename__ = "stores"

    store_id: Mapped[str] = mapped_column(String, primary_key=True)
    store_name: Mapped[str] = mapped_column(String, nullable=False)
    cluster_id: Mapped[str] = mapped_column(
        String, ForeignKey("store_clusters.cluster_id"), nullable=False, index=True
    )
    store_size_sqft: Mapped[int] = mapped_column(Integer, nullable=False)
    location_tier: Mapped[LocationTier] = mapped_column(
        enum_type(LocationTier, "location_tier"), nullable=False
    )
    median_income: Mapped[int] = mapped_column(Integer, nullable=False)
    store_format: Mapped[StoreFormat] = mapped_column(
        enum_type(StoreFormat, "store_format"), nullable=False
    )
    region: Mapped[Region] = mapped_column(enum_type(Region, "region"), nullable=False)
    avg_weekly_sales_12mo: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    cluster: Mapped[StoreCluster] = relationship(back_populates="stores")

    __table_args__ = (
        CheckConstraint("store_size_sqft > 0", name="store_size_sqft"),
        CheckConstraint("median_income >= 0", name="median_income"),
        CheckConstraint("avg_weekly_sales_12mo >= 0", name="avg_weekly_sales"),
    )
