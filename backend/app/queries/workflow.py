"""A workflow's log trail: what each agent did, in order, with durations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.app.models import WorkflowLog
from backend.app.queries.errors import NotFound
from backend.app.schemas.read_models import WorkflowStep, WorkflowTrail


def workflow_trail(session: Session, workflow_id: str) -> WorkflowTrail:
    """The workflow's log rows by created_at (rows without one first), then log_id."""
    logs = session.scalars(
        select(WorkflowLog)
        .where(WorkflowLog.workflow_id == workflow_id)
        .order_by(WorkflowLog.created_at.asc().nulls_first(), WorkflowLog.log_id)
    ).all()
    if not logs:
        raise NotFound(f"workflow {workflow_id!r} has no log entries")
    steps = [WorkflowStep.model_validate(log) for log in logs]
    durations = [step.duration_seconds for step in steps if step.duration_seconds is not None]
    return WorkflowTrail(
        workflow_id=workflow_id,
        steps=steps,
        total_duration_seconds=sum(durations),
        steps_without_duration=len(steps) - len(durations),
    )
