"""categories: the product categories whose season demand is forecast."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.enums import Archetype, enum_type
from backend.app.models.types import UtcDateTime


class Category(Base):
    __tablename__ = "categories"

    category_id: Mapped[str] = mapped_column(String, primary_key=True)
    category_name: Mapped[str] = mapped_column(String, nullable=False)
    season_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    season_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    season_length_weeks: Mapped[int] = mapped_column(Integer, nullable=False)
    archetype: Mapped[Archetype] = mapped_column(
        enum_type(Archetype, "archetype"),
        nullable=False,
        default=Archetype.FASHION_RETAIL,
        server_default=Archetype.FASHION_RETAIL.value,
    )
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint("season_end_date > season_start_date", name="season_dates"),
        CheckConstraint("season_length_weeks >= 1", name="season_length_weeks"),
    )
