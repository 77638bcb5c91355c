"""A workflow's log trail: what each agent did, in order, with durations."""

from __future__ import annotations

import math

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.app.models import Category, Workflow, WorkflowLog
from backend.app.queries.errors import NotFound
from backend.app.queries.paging import check_limit, page_of
from backend.app.schemas.read_models import (
    Page,
    WorkflowDetail,
    WorkflowStep,
    WorkflowStepDetail,
    WorkflowSummary,
    WorkflowTrail,
)

DEFAULT_PAGE_SIZE = 50


def _steps_query(workflow_id: str) -> Select[WorkflowLog]:
    """A run's steps by created_at (rows without one first), then log_id."""
    return (
        select(WorkflowLog)
        .where(WorkflowLog.workflow_id == workflow_id)
        .order_by(WorkflowLog.created_at.asc().nulls_first(), WorkflowLog.log_id)
    )


def _total_seconds(durations: list[float]) -> float:
    """The steps' total to the microsecond, the timestamps' precision: float noise
    (0.1 + 0.2 = 0.30000000000000004) never reaches the API's JSON."""
    return round(math.fsum(durations), 6)


def workflow_trail(session: Session, workflow_id: str) -> WorkflowTrail:
    """The workflow's log rows by created_at (rows without one first), then log_id."""
    logs = session.scalars(_steps_query(workflow_id)).all()
    if not logs:
        raise NotFound(f"workflow {workflow_id!r} has no log entries")
    steps = [WorkflowStep.model_validate(log) for log in logs]
    durations = [step.duration_seconds for step in steps if step.duration_seconds is not None]
    return WorkflowTrail(
        workflow_id=workflow_id,
        steps=steps,
        total_duration_seconds=_total_seconds(durations),
        steps_without_duration=len(steps) - len(durations),
    )


def workflow_status(session: Session, workflow_id: str) -> WorkflowDetail:
    """A workflow run: status, current agent, progress, outputs, and its steps in order
    with their inputs, outputs and durations. Two indexed statements."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"workflow {workflow_id!r} does not exist")
    steps = [
        WorkflowStepDetail.model_validate(log)
        for log in session.scalars(_steps_query(workflow_id)).all()
    ]
    durations = [step.duration_seconds for step in steps if step.duration_seconds is not None]
    end = workflow.finished_at or workflow.updated_at
    elapsed = (
        None
        if end is None or workflow.created_at is None
        else (end - workflow.created_at).total_seconds()
    )
    return WorkflowDetail.from_source(
        workflow,
        elapsed_seconds=elapsed,
        steps=steps,
        total_duration_seconds=_total_seconds(durations),
        steps_without_duration=len(steps) - len(durations),
    )


def workflows_of_category(
    session: Session,
    category_id: str,
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page[WorkflowSummary]:
    """The category's runs with workflow_id greater than ``after``, at most ``limit``, in
    workflow_id order; read through ix_workflows_category_id."""
    check_limit(limit)
    if session.get(Category, category_id) is None:
        raise NotFound(f"category {category_id!r} does not exist")
    query = select(Workflow).where(Workflow.category_id == category_id)
    if after is not None:
        query = query.where(Workflow.workflow_id > after)
    rows = session.scalars(query.order_by(Workflow.workflow_id).limit(limit + 1)).all()
    return page_of(
        [WorkflowSummary.model_validate(row) for row in rows],
        limit,
        key=lambda workflow: workflow.workflow_id,
    )
