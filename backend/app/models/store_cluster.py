"""store_clusters: groups of stores that share a fashion tier."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.database.base import Base
from backend.app.models.enums import FashionTier, enum_type
from backend.app.models.types import UtcDateTime

if TYPE_CHECKING:
    from backend.app.models.store import Store


class StoreCluster(Base):
    __tablename__ = "store_clusters"

    cluster_id: Mapped[str] = mapped_column(String, primary_key=True)
    cluster_name: Mapped[str] = mapped_column(String, nullable=False)
    fashion_tier: Mapped[FashionTier] = mapped_column(
        enum_type(FashionTier, "fashion_tier"), nullable=False
    )
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    stores: Mapped[list[Store]] = relationship(back_populates="cluster")
