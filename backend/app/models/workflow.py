"""workflows: one orchestrator run for a category and season, and what it produced.

The run's steps are the ``workflow_logs`` rows with its ``workflow_id`` (no foreign key:
logs written before a run was recorded, or by older agents, stay valid). Status moves
only as ``backend.app.schemas.lifecycles.WORKFLOW_TRANSITIONS`` allows, through
``backend.app.domain.workflows``; the CHECKs below hold what any client must keep.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.enums import WorkflowRunStatus, enum_type
from backend.app.models.keys import key_length_check
from backend.app.models.types import UtcDateTime

_FINISHED = "'completed', 'failed', 'cancelled'"


class Workflow(Base):
    __tablename__ = "workflows"

    workflow_id: Mapped[str] = mapped_column(String, primary_key=True)
    category_id: Mapped[str] = mapped_column(
        String, ForeignKey("categories.category_id"), nullable=False, index=True
    )
    season: Mapped[str] = mapped_column(String, nullable=False)
    # Set when the orchestrator has extracted the season's parameters.
    parameter_id: Mapped[str | None] = mapped_column(
        String, ForeignKey("season_parameters.parameter_id"), nullable=True, index=True
    )
    forecast_id: Mapped[str | None] = mapped_column(
        String, ForeignKey("forecasts.forecast_id"), nullable=True, index=True
    )
    allocation_id: Mapped[str | None] = mapped_column(
        String, ForeignKey("allocations.allocation_id"), nullable=True, index=True
    )
    # The run says it produces a forecast: it cannot complete without one.
    produces_forecast: Mapped[bool] = mapped_column(
        Boolean(create_constraint=False), nullable=False, default=True, server_default=true()
    )
    status: Mapped[WorkflowRunStatus] = mapped_column(
        enum_type(WorkflowRunStatus, "status"),
        nullable=False,
        default=WorkflowRunStatus.PENDING,
        server_default=WorkflowRunStatus.PENDING.value,
    )
    current_agent: Mapped[str | None] = mapped_column(String, nullable=True)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0, server_default="0")
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        CheckConstraint(
            f"(finished_at IS NOT NULL) = (status IN ({_FINISHED}))", name="finished_at"
        ),
        CheckConstraint("status <> 'failed' OR error_message IS NOT NULL", name="failed_has_error"),
        CheckConstraint("status <> 'completed' OR progress = 1", name="completed_progress"),
        CheckConstraint(
            "status <> 'completed' OR NOT produces_forecast OR forecast_id IS NOT NULL",
            name="completed_forecast",
        ),
        key_length_check("workflow_id"),
        key_length_check("category_id"),
        key_length_check("season"),
        key_length_check("parameter_id", nullable=True),
        key_length_check("forecast_id", nullable=True),
        key_length_check("allocation_id", nullable=True),
        key_length_check("current_agent", nullable=True),
    )
