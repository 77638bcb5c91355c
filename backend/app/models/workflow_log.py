"""workflow_logs: what each agent did in a workflow run, with its inputs and outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.app.database.base import Base
from backend.app.models.enums import WorkflowStatus, enum_type
from backend.app.models.types import UtcDateTime, json_object
from backend.app.schemas.payloads import validate_json_object


def _validate_input(value: Any) -> None:
    validate_json_object(value, "input_data")


def _validate_output(value: Any) -> None:
    validate_json_object(value, "output_data")


class WorkflowLog(Base):
    __tablename__ = "workflow_logs"

    log_id: Mapped[str] = mapped_column(String, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String, nullable=False)
    agent_name: Mapped[str] = mapped_column(String, nullable=False)
    action: Mapped[str] = mapped_column(String, nullable=False)
    input_data: Mapped[dict[str, Any] | None] = mapped_column(
        json_object(_validate_input), nullable=True
    )
    output_data: Mapped[dict[str, Any] | None] = mapped_column(
        json_object(_validate_output), nullable=True
    )
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[WorkflowStatus] = mapped_column(
        enum_type(WorkflowStatus, "status"), nullable=False
    )
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds >= 0", name="duration_seconds"
        ),
        Index("idx_workflow_logs_workflow", "workflow_id"),
    )
