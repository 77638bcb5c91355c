"""A workflow run's lifecycle through the write API, on both backends: every move the
issue allows succeeds, every other is refused naming the move, two writers cannot both
move a run, and a run that produces a forecast cannot complete without one."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from backend.app.domain import workflows
from backend.app.models import Workflow, WorkflowLog
from backend.app.schemas.enums import WorkflowRunStatus, WorkflowStatus

S = WorkflowRunStatus
# The lifecycle, written out here (not read from the code): pending -> running
# -> awaiting_approval -> running -> completed, and failed / cancelled from any
# unfinished state.
ALLOWED = {
    (S.PENDING, S.RUNNING),
    (S.RUNNING, S.AWAITING_APPROVAL),
    (S.AWAITING_APPROVAL, S.RUNNING),
    (S.RUNNING, S.COMPLETED),
    *(
        (state, end)
        for state in (S.PENDING, S.RUNNING, S.AWAITING_APPROVAL)
        for end in (S.FAILED, S.CANCELLED)
    ),
}
FINISHED = {S.COMPLETED, S.FAILED, S.CANCELLED}
# A legal way to reach each status from a new run.
PATHS = {
    S.PENDING: [],
    S.RUNNING: [S.RUNNING],
    S.AWAITING_APPROVAL: [S.RUNNING, S.AWAITING_APPROVAL],
    S.COMPLETED: [S.RUNNING, S.COMPLETED],
    S.FAILED: [S.RUNNING, S.FAILED],
    S.CANCELLED: [S.CANCELLED],
}
T0 = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)


def _start(session: Session, workflow_id: str = "W1", **options: object) -> Workflow:
    return workflows.start_workflow(
        session,
        workflow_id=workflow_id,
        category_id="WD",
        season="Spring 2025",
        at=T0,
        **options,  # type: ignore[arg-type]
    )


def _move(session: Session, workflow_id: str, target: WorkflowRunStatus, at: datetime) -> None:
    error = "agent crashed" if target is S.FAILED else None
    workflows.transition(session, workflow_id, target, error_message=error, at=at)


def _reach(session: Session, status: WorkflowRunStatus, workflow_id: str = "W1") -> None:
    _start(session, workflow_id)
    workflows.record_outputs(session, workflow_id, forecast_id="F1", at=T0)
    for step, target in enumerate(PATHS[status], 1):
        _move(session, workflow_id, target, T0 + timedelta(minutes=step))


def _stored(engine: Engine, workflow_id: str = "W1") -> dict[str, object]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT status, progress, finished_at, error_message FROM workflows "
                "WHERE workflow_id = :id"
            ),
            {"id": workflow_id},
        ).one()
    return dict(row._mapping)


@pytest.mark.parametrize("target", list(S), ids=str)
@pytest.mark.parametrize("current", list(S), ids=str)
def test_every_move_is_allowed_exactly_as_the_lifecycle_says(
    season: Engine, current: WorkflowRunStatus, target: WorkflowRunStatus
) -> None:
    with Session(season) as session:
        _reach(session, current)
        session.commit()
    at = T0 + timedelta(hours=1)
    with Session(season) as session:
        if (current, target) in ALLOWED:
            _move(session, "W1", target, at)
            session.commit()
        else:
            with pytest.raises(workflows.IllegalTransition) as refused:
                _move(session, "W1", target, at)
            assert f"workflow W1: {current} -> {target} is not allowed" in str(refused.value)
            session.rollback()
    stored = _stored(season)
    expected = target if (current, target) in ALLOWED else current
    assert stored["status"] == expected
    # finished_at is the moment of the finishing move, and only a finished run has one.
    assert (stored["finished_at"] is not None) == (expected in FINISHED)
    assert stored["progress"] == (1.0 if expected is S.COMPLETED else 0.0)


def test_completed_to_running_names_the_move_and_why(season: Engine) -> None:
    with Session(season) as session:
        _reach(session, S.COMPLETED)
        with pytest.raises(workflows.IllegalTransition) as refused:
            workflows.run(session, "W1")
    assert str(refused.value) == (
        "workflow W1: completed -> running is not allowed (completed is final)"
    )


def test_a_refused_move_lists_the_moves_the_lifecycle_allows(season: Engine) -> None:
    """Runs and markdowns explain a refused move in one wording (``Lifecycle.refusal``)."""
    with Session(season) as session:
        _start(session)
        with pytest.raises(workflows.IllegalTransition) as refused:
            workflows.complete(session, "W1")
    assert str(refused.value) == (
        "workflow W1: pending -> completed is not allowed "
        "(from pending only running, failed, cancelled)"
    )


def test_a_run_that_produces_a_forecast_cannot_complete_without_one(season: Engine) -> None:
    with Session(season) as session:
        _start(session, "W1")
        workflows.run(session, "W1")
        with pytest.raises(
            workflows.IllegalTransition, match="running -> completed without a forecast"
        ):
            workflows.complete(session, "W1")
        workflows.record_outputs(session, "W1", forecast_id="F1", allocation_id="A1")
        workflows.complete(session, "W1")
        # A run that says it produces none may finish without one.
        _start(session, "W2", produces_forecast=False)
        workflows.run(session, "W2")
        workflows.complete(session, "W2")
        session.commit()
    assert _stored(season, "W1")["status"] == "completed"
    assert _stored(season, "W2")["status"] == "completed"


def test_the_database_refuses_a_completed_run_without_its_forecast(season: Engine) -> None:
    """Another client writing around the API meets the same rule as a CHECK."""
    with Session(season) as session:
        _start(session)
        session.commit()
    with pytest.raises(Exception, match="ck_workflows_completed_forecast"), season.begin() as c:
        c.execute(
            text(
                "UPDATE workflows SET status = 'completed', progress = 1, "
                "finished_at = updated_at WHERE workflow_id = 'W1'"
            )
        )
    assert _stored(season)["status"] == "pending"


def test_failing_needs_a_reason_and_keeps_it(season: Engine) -> None:
    with Session(season) as session:
        _start(session)
        workflows.run(session, "W1")
        with pytest.raises(
            workflows.IllegalTransition, match="running -> failed needs an error_message"
        ):
            workflows.transition(session, "W1", S.FAILED)
        workflows.fail(session, "W1", "inventory agent: timeout", at=T0 + timedelta(hours=2))
        session.commit()
    stored = _stored(season)
    assert stored["status"] == "failed"
    assert stored["error_message"] == "inventory agent: timeout"


def test_two_writers_cannot_both_move_a_run(season: Engine) -> None:
    with Session(season) as session:
        _reach(session, S.RUNNING)
        session.commit()
    # Writer A saw the run running; writer B cancels it first and commits.
    with Session(season) as writer_b:
        workflows.cancel(writer_b, "W1")
        writer_b.commit()
    with Session(season) as writer_a:
        with pytest.raises(workflows.ConcurrentTransition) as refused:
            workflows.transition(writer_a, "W1", S.COMPLETED, expected=S.RUNNING)
        writer_a.rollback()
    assert str(refused.value) == (
        "workflow W1 is cancelled, not running: another writer moved it; "
        "running -> completed was not made"
    )
    assert _stored(season)["status"] == "cancelled"


def test_the_update_itself_is_compare_and_set(season: Engine) -> None:
    """Even when the status changed after the writer read it (the race the check above
    cannot see), the UPDATE ... WHERE status = :seen matches nothing and moves nothing."""
    with Session(season) as session:
        _reach(session, S.RUNNING)
        session.commit()
    with Session(season, expire_on_commit=False) as writer:
        workflow = writer.get(Workflow, "W1")
        assert workflow is not None and workflow.status is S.RUNNING
        # The writer's read transaction ends (SQLite's write lock would serialize the
        # two otherwise); it still holds the status it saw.
        writer.commit()
        with season.begin() as other:
            other.execute(
                text(
                    "UPDATE workflows SET status = 'cancelled', finished_at = updated_at "
                    "WHERE workflow_id = 'W1'"
                )
            )
        with pytest.raises(workflows.ConcurrentTransition):
            workflows._compare_and_set(
                writer, workflow, S.RUNNING, S.COMPLETED, {"status": S.COMPLETED}
            )
        writer.rollback()
    assert _stored(season)["status"] == "cancelled"


def test_steps_are_logged_while_running_and_move_agent_and_progress(season: Engine) -> None:
    with Session(season) as session:
        _start(session)
        with pytest.raises(
            workflows.IllegalTransition, match="W1 is pending: steps are recorded only"
        ):
            workflows.record_step(session, "W1", agent_name="demand_agent", action="forecast")
        workflows.run(session, "W1")
        workflows.record_step(
            session,
            "W1",
            agent_name="demand_agent",
            action="forecast_demand",
            output_data={"forecast_id": "F1"},
            duration_seconds=2.5,
            progress=0.4,
            log_id="W1-01",
            at=T0 + timedelta(minutes=5),
        )
        with pytest.raises(
            workflows.WorkflowError, match=r"progress 0\.3 must be within 0\.4\.\.1"
        ):
            workflows.record_step(
                session, "W1", agent_name="inventory_agent", action="allocate", progress=0.3
            )
        session.commit()
    with Session(season) as session:
        workflow = session.get(Workflow, "W1")
        assert workflow is not None
        assert (workflow.current_agent, workflow.progress) == ("demand_agent", 0.4)
        assert workflow.updated_at == T0 + timedelta(minutes=5)
        logs = session.scalars(select(WorkflowLog).where(WorkflowLog.workflow_id == "W1")).all()
        assert [(log.log_id, log.agent_name, log.status) for log in logs] == [
            ("W1-01", "demand_agent", WorkflowStatus.COMPLETED)
        ]
        assert logs[0].created_at == T0 + timedelta(minutes=5)


def test_outputs_must_belong_to_the_run(season: Engine) -> None:
    with Session(season) as session:
        _start(session)
        with pytest.raises(workflows.WorkflowError, match="forecast NOPE does not exist"):
            workflows.record_outputs(session, "W1", forecast_id="NOPE")
        with pytest.raises(
            workflows.WorkflowError,
            match="allocation A1 allocates forecast F1, the run's forecast is None",
        ):
            workflows.record_outputs(session, "W1", allocation_id="A1")
        workflows.record_outputs(
            session, "W1", parameter_id="P1", forecast_id="F1", allocation_id="A1"
        )
        with pytest.raises(workflows.WorkflowError, match="already exists"):
            _start(session, "W1")
        with pytest.raises(workflows.WorkflowError, match="category NOPE does not exist"):
            workflows.start_workflow(session, workflow_id="W2", category_id="NOPE", season="x")
        # The run's keys follow the key rule (models/keys.py): no edge whitespace.
        with pytest.raises(
            workflows.WorkflowError,
            match=r"season 'Spring 2025\\n': begins or ends with whitespace, which a key may not",
        ):
            workflows.start_workflow(
                session, workflow_id="W3", category_id="WD", season="Spring 2025\n"
            )
        with pytest.raises(workflows.WorkflowError, match="workflow_id ' W3': begins or ends"):
            workflows.start_workflow(session, workflow_id=" W3", category_id="WD", season="x")
        session.commit()
    with Session(season) as session:
        workflow = session.get(Workflow, "W1")
        assert workflow is not None
        assert (workflow.parameter_id, workflow.forecast_id, workflow.allocation_id) == (
            "P1",
            "F1",
            "A1",
        )


@pytest.mark.parametrize("writers", [4])
def test_of_racing_writers_exactly_one_finishes_the_run(season: Engine, writers: int) -> None:
    """Writers in their own threads and sessions try to finish the same running run at
    once (complete or cancel): exactly one moves it; every other is refused, and the
    run holds the winner's status."""
    with Session(season) as session:
        _reach(session, S.RUNNING)
        session.commit()
    start = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(number: int) -> None:
        target = S.COMPLETED if number % 2 == 0 else S.CANCELLED
        start.wait()
        try:
            with Session(season) as session:
                workflows.transition(session, "W1", target, expected=S.RUNNING)
                session.commit()
            outcome = f"moved to {target}"
        except workflows.WorkflowError as refused:
            outcome = f"refused: {type(refused).__name__}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    moved = [outcome for outcome in outcomes if outcome.startswith("moved")]
    assert len(outcomes) == writers
    assert len(moved) == 1, outcomes
    assert all(o == "refused: ConcurrentTransition" for o in outcomes if o not in moved)
    assert f"moved to {_stored(season)['status']}" == moved[0]


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_a_plain_sqlite3_client_meets_the_same_checks(season: Engine) -> None:
    """Another client (Python's sqlite3, no ffdb code): out-of-range progress, an unknown
    status and a finished run without finished_at are refused by the database itself."""
    with Session(season) as session:
        _reach(session, S.RUNNING)
        session.commit()
    path = season.url.database
    assert path is not None
    for assignment, constraint in (
        ("progress = 1.5", "ck_workflows_progress"),
        ("progress = -0.1", "ck_workflows_progress"),
        ("status = 'done'", "ck_workflows_status"),
        ("status = 'cancelled'", "ck_workflows_finished_at"),
    ):
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            with pytest.raises(sqlite3.IntegrityError, match=constraint):
                connection.execute(f"UPDATE workflows SET {assignment} WHERE workflow_id = 'W1'")
        finally:
            connection.close()
    assert _stored(season)["status"] == "running"
