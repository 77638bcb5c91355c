"""markdowns: the markdown recommended at a checkpoint week from sell-through."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.app.database.base import Base
from backend.app.models.enums import MarkdownStatus, enum_type
from backend.app.models.types import UtcDateTime

if TYPE_CHECKING:
    from backend.app.models.forecast import Forecast

DEFAULT_TARGET_SELL_THROUGH = 0.60
DEFAULT_ELASTICITY = 2.0
MAX_MARKDOWN_PCT = 0.40


class Markdown(Base):
    __tablename__ = "markdowns"

    markdown_id: Mapped[str] = mapped_column(String, primary_key=True)
    forecast_id: Mapped[str] = mapped_column(
        String, ForeignKey("forecasts.forecast_id"), nullable=False, index=True
    )
    week_number: Mapped[int] = mapped_column(Integer, nullable=False)
    sell_through_pct: Mapped[float] = mapped_column(Float, nullable=False)
    target_sell_through_pct: Mapped[float] = mapped_column(
        Float,
        nullable=False,
        default=DEFAULT_TARGET_SELL_THROUGH,
        server_default=str(DEFAULT_TARGET_SELL_THROUGH),
    )
    gap_pct: Mapped[float] = mapped_column(Float, nullable=False)
    recommended_markdown_pct: Mapped[float] = mapped_column(Float, nullable=False)
    elasticity_coefficient: Mapped[float] = mapped_column(
        Float,
        nullable=False,
        default=DEFAULT_ELASTICITY,
        server_default=str(DEFAULT_ELASTICITY),
    )
    expected_demand_lift_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[MarkdownStatus] = mapped_column(
        enum_type(MarkdownStatus, "status"),
        nullable=False,
        default=MarkdownStatus.PENDING,
        server_default=MarkdownStatus.PENDING.value,
    )
    reasoning: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    forecast: Mapped[Forecast] = relationship(back_populates="markdowns")

    __table_args__ = (
        CheckConstraint("week_number >= 1 AND week_number <= 12", name="week_number"),
        CheckConstraint("sell_through_pct >= 0 AND sell_through_pct <= 1", name="sell_through"),
        CheckConstraint(
            f"recommended_markdown_pct >= 0 AND recommended_markdown_pct <= {MAX_MARKDOWN_PCT}",
            name="markdown_pct",
        ),
        CheckConstraint(
            "target_sell_through_pct >= 0 AND target_sell_through_pct <= 1",
            name="target_sell_through",
        ),
    )
