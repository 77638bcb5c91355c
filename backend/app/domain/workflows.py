"""The write API of a workflow run: start it, move it through its lifecycle, log its steps.

The moves a run may make are ``lifecycles.WORKFLOW_TRANSITIONS``; anything else is
refused with ``IllegalTransition``, whose message names the move (``completed ->
running``). Every move is a compare-and-set (``UPDATE ... WHERE status = :seen``): of
two writers that saw the same status only the first moves the run, the second gets
``ConcurrentTransition``. A run that says it produces a forecast cannot complete
without one. Nothing is committed here: the caller's session is the unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.app.domain import records, status_moves
from backend.app.models import (
    Allocation,
    Category,
    Forecast,
    SeasonParameters,
    Workflow,
    WorkflowLog,
)
from backend.app.models.keys import key_problem
from backend.app.schemas.enums import WorkflowRunStatus, WorkflowStatus
from backend.app.schemas.lifecycles import (
    FINISHED_RUN_STATES,
    UNFINISHED_RUN_STATES,
    WORKFLOW_LIFECYCLE,
    transition_name,
)

__all__ = [
    "ConcurrentTransition",
    "IllegalTransition",
    "WorkflowError",
    "await_approval",
    "cancel",
    "complete",
    "fail",
    "record_outputs",
    "record_step",
    "resume",
    "run",
    "start_workflow",
    "transition",
]

Run = WorkflowRunStatus
# What another writer did, in a stale move's message.
_MOVED = "moved it"


class WorkflowError(ValueError):
    """A workflow write that breaks the run's rules; nothing was written."""


class IllegalTransition(WorkflowError):
    """A move the lifecycle does not allow, or a finish the run's outputs do not allow."""


class ConcurrentTransition(WorkflowError):
    """Another writer moved the run since the caller saw its status."""


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


def _key(what: str, value: str) -> str:
    problem = key_problem(value)
    if problem is not None:
        raise WorkflowError(f"{what} {value[:80]!r}: {problem}")
    return value


def _workflow(session: Session, workflow_id: str) -> Workflow:
    workflow = session.get(Workflow, workflow_id, populate_existing=True)
    if workflow is None:
        raise WorkflowError(f"workflow {workflow_id} does not exist")
    return workflow


def start_workflow(
    session: Session,
    *,
    workflow_id: str,
    category_id: str,
    season: str,
    produces_forecast: bool = True,
    at: datetime | None = None,
) -> Workflow:
    """A new run, ``pending``, for ``category_id`` and ``season``."""
    _key("workflow_id", workflow_id)
    _key("season", season)
    if session.get(Workflow, workflow_id) is not None:
        raise WorkflowError(f"workflow {workflow_id} already exists")
    if session.get(Category, category_id) is None:
        raise WorkflowError(f"workflow {workflow_id}: category {category_id} does not exist")
    moment = _now(at)
    workflow = Workflow(
        workflow_id=workflow_id,
        category_id=category_id,
        season=season,
        produces_forecast=produces_forecast,
        status=WORKFLOW_LIFECYCLE.initial,
        progress=0.0,
        created_at=moment,
        updated_at=moment,
    )
    session.add(workflow)
    session.flush()
    return workflow


def transition(
    session: Session,
    workflow_id: str,
    target: WorkflowRunStatus,
    *,
    expected: WorkflowRunStatus | None = None,
    error_message: str | None = None,
    at: datetime | None = None,
) -> Workflow:
    """Move the run to ``target``.

    ``expected`` is the status the caller last saw (default: the status read now); if
    the run is no longer in it, ``ConcurrentTransition``. Moving to ``failed`` needs an
    ``error_message``; to ``completed`` sets progress to 1 and needs the forecast when
    the run produces one. A finished run gets ``finished_at``.
    """
    target = WorkflowRunStatus(target)
    workflow = _workflow(session, workflow_id)
    seen = WorkflowRunStatus(expected) if expected is not None else workflow.status
    move = status_moves.check_move(
        WORKFLOW_LIFECYCLE,
        f"workflow {workflow_id}",
        workflow.status,
        seen,
        target,
        by=_MOVED,
        stale=ConcurrentTransition,
        illegal=IllegalTransition,
    )
    values: dict[str, Any] = {"status": target, "updated_at": _now(at)}
    if target is Run.FAILED:
        if not error_message:
            raise IllegalTransition(f"workflow {workflow_id}: {move} needs an error_message")
        values["error_message"] = error_message
    elif error_message is not None:
        raise WorkflowError(
            f"workflow {workflow_id}: an error_message is recorded only on failure, not {move}"
        )
    if target is Run.COMPLETED:
        if workflow.produces_forecast and workflow.forecast_id is None:
            raise IllegalTransition(
                f"workflow {workflow_id}: {move} without a forecast, but the run says it "
                "produces one (record_outputs(forecast_id=...) first)"
            )
        values["progress"] = 1.0
        values["current_agent"] = None
    if target in FINISHED_RUN_STATES:
        values["finished_at"] = values["updated_at"]
    _compare_and_set(session, workflow, seen, target, values)
    return workflow


def _compare_and_set(
    session: Session,
    workflow: Workflow,
    seen: WorkflowRunStatus,
    target: WorkflowRunStatus | None,
    values: Mapping[str, Any],
) -> None:
    """UPDATE the run only if it is still ``seen``; refresh the object from the row."""
    status_moves.set_status(
        session,
        workflow,
        seen,
        values,
        what=f"workflow {workflow.workflow_id}",
        by=_MOVED,
        attempted=f"{transition_name(seen, target)} was not made" if target else "not changed",
        stale=ConcurrentTransition,
    )


def run(session: Session, workflow_id: str, *, at: datetime | None = None) -> Workflow:
    """pending -> running."""
    return transition(session, workflow_id, Run.RUNNING, at=at)


def await_approval(session: Session, workflow_id: str, *, at: datetime | None = None) -> Workflow:
    """running -> awaiting_approval: the run pauses for a planner's decision."""
    return transition(session, workflow_id, Run.AWAITING_APPROVAL, at=at)


def resume(session: Session, workflow_id: str, *, at: datetime | None = None) -> Workflow:
    """awaiting_approval -> running."""
    return transition(session, workflow_id, Run.RUNNING, at=at)


def complete(session: Session, workflow_id: str, *, at: datetime | None = None) -> Workflow:
    """running -> completed (progress 1; the forecast recorded if the run produces one)."""
    return transition(session, workflow_id, Run.COMPLETED, at=at)


def fail(
    session: Session, workflow_id: str, error_message: str, *, at: datetime | None = None
) -> Workflow:
    """Any unfinished status -> failed, with the reason."""
    return transition(session, workflow_id, Run.FAILED, error_message=error_message, at=at)


def cancel(session: Session, workflow_id: str, *, at: datetime | None = None) -> Workflow:
    """Any unfinished status -> cancelled."""
    return transition(session, workflow_id, Run.CANCELLED, at=at)


def _unfinished(workflow: Workflow, doing: str) -> None:
    if workflow.status not in UNFINISHED_RUN_STATES:
        raise IllegalTransition(
            f"workflow {workflow.workflow_id} is {workflow.status}: a finished run cannot {doing}"
        )


def record_outputs(
    session: Session,
    workflow_id: str,
    *,
    parameter_id: str | None = None,
    forecast_id: str | None = None,
    allocation_id: str | None = None,
    at: datetime | None = None,
) -> Workflow:
    """Link what the run produced: its season parameters, forecast and allocation.

    Each must exist and belong to the run's category (the allocation to its forecast);
    only an unfinished run takes outputs. Outputs not given stay as they are.
    """
    workflow = _workflow(session, workflow_id)
    _unfinished(workflow, "record outputs")
    values: dict[str, Any] = {}
    if parameter_id is not None:
        parameters = session.get(SeasonParameters, parameter_id)
        if parameters is None:
            raise WorkflowError(
                f"workflow {workflow_id}: season parameters {parameter_id} do not exist"
            )
        if parameters.category_id not in (None, workflow.category_id):
            raise WorkflowError(
                f"workflow {workflow_id}: season parameters {parameter_id} are of category "
                f"{parameters.category_id}, the run's is {workflow.category_id}"
            )
        values["parameter_id"] = parameter_id
    if forecast_id is not None:
        forecast = session.get(Forecast, forecast_id)
        if forecast is None:
            raise WorkflowError(f"workflow {workflow_id}: forecast {forecast_id} does not exist")
        if forecast.category_id != workflow.category_id:
            raise WorkflowError(
                f"workflow {workflow_id}: forecast {forecast_id} is of category "
                f"{forecast.category_id}, the run's is {workflow.category_id}"
            )
        values["forecast_id"] = forecast_id
    if allocation_id is not None:
        allocation = session.get(Allocation, allocation_id)
        if allocation is None:
            raise WorkflowError(
                f"workflow {workflow_id}: allocation {allocation_id} does not exist"
            )
        produced = values.get("forecast_id", workflow.forecast_id)
        if allocation.forecast_id != produced:
            raise WorkflowError(
                f"workflow {workflow_id}: allocation {allocation_id} allocates forecast "
                f"{allocation.forecast_id}, the run's forecast is {produced}"
            )
        values["allocation_id"] = allocation_id
    if values:
        values["updated_at"] = _now(at)
        _compare_and_set(session, workflow, workflow.status, None, values)
    return workflow


def record_step(
    session: Session,
    workflow_id: str,
    *,
    agent_name: str,
    action: str,
    status: WorkflowStatus = WorkflowStatus.COMPLETED,
    input_data: Mapping[str, Any] | None = None,
    output_data: Mapping[str, Any] | None = None,
    duration_seconds: float | None = None,
    error_message: str | None = None,
    progress: float | None = None,
    log_id: str | None = None,
    at: datetime | None = None,
) -> WorkflowLog:
    """One agent step of a running run: a workflow_logs row, and the run's current agent
    and progress (0..1, never backwards) updated with it."""
    workflow = _workflow(session, workflow_id)
    if workflow.status is not Run.RUNNING:
        raise IllegalTransition(
            f"workflow {workflow_id} is {workflow.status}: steps are recorded only while "
            "it is running"
        )
    _key("agent_name", agent_name)
    if progress is not None and not workflow.progress <= progress <= 1:
        raise WorkflowError(
            f"workflow {workflow_id}: progress {progress!r} must be within "
            f"{workflow.progress:g}..1 (0..1, never backwards)"
        )
    moment = _now(at)
    log = records.log_workflow_step(
        session,
        workflow_id=workflow_id,
        agent_name=agent_name,
        action=action,
        status=status,
        input_data=input_data,
        output_data=output_data,
        duration_seconds=duration_seconds,
        error_message=error_message,
        log_id=log_id or str(uuid.uuid4()),
        created_at=moment,
    )
    values: dict[str, Any] = {"current_agent": agent_name, "updated_at": moment}
    if progress is not None:
        values["progress"] = progress
    _compare_and_set(session, workflow, Run.RUNNING, None, values)
    session.flush()
    return log
