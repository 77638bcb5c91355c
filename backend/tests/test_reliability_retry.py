"""Transient faults are retried after a rollback, a bounded number of times; others never."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import Connection, Engine, event, func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine
from backend.app.database.retry import (
    RetriesExhausted,
    RetryPolicy,
    backoff_delay,
    run_connection_with_retries,
    run_with_retries,
    transient_fault,
)
from backend.app.models import StoreCluster, WorkflowLog
from backend.app.models.enums import FashionTier, WorkflowStatus


def _log(log_id: str) -> WorkflowLog:
    return WorkflowLog(
        log_id=log_id,
        workflow_id="wf-retry",
        agent_name="retry-test",
        action="write",
        status=WorkflowStatus.COMPLETED,
    )


def _wrapped(driver_error: BaseException) -> OperationalError:
    """What SQLAlchemy raises for a driver error: its wrapper around it."""
    return OperationalError("INSERT INTO workflow_logs ...", None, driver_error)


def _log_ids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(WorkflowLog.log_id).order_by(WorkflowLog.log_id)))


class Recorder:
    """Stands in for time.sleep and on_retry: records waits instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.retried: list[int] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    def on_retry(self, attempt: int, _error: BaseException, _delay: float) -> None:
        self.retried.append(attempt)


TRANSIENT = [
    pytest.param(sqlite3.OperationalError("database is locked"), id="sqlite-locked"),
    pytest.param(sqlite3.OperationalError("database table is locked"), id="sqlite-table-locked"),
    pytest.param(psycopg.errors.SerializationFailure("could not serialize"), id="pg-40001"),
    pytest.param(psycopg.errors.DeadlockDetected("deadlock detected"), id="pg-40P01"),
    pytest.param(psycopg.errors.AdminShutdown("terminating connection"), id="pg-57P01"),
    pytest.param(psycopg.OperationalError("server closed the connection"), id="pg-dropped"),
]

NOT_TRANSIENT = [
    pytest.param(sqlite3.IntegrityError("UNIQUE constraint failed"), id="sqlite-integrity"),
    pytest.param(sqlite3.OperationalError("no such table: nope"), id="sqlite-no-table"),
    pytest.param(sqlite3.ProgrammingError("wrong number of bindings"), id="sqlite-programming"),
    pytest.param(psycopg.errors.UniqueViolation("duplicate key"), id="pg-unique"),
    pytest.param(psycopg.errors.CheckViolation("check"), id="pg-check"),
    pytest.param(psycopg.errors.InvalidTextRepresentation("bad json"), id="pg-data"),
    pytest.param(psycopg.errors.QueryCanceled("statement timeout"), id="pg-57014"),
    pytest.param(psycopg.errors.UndefinedTable("no such table"), id="pg-programming"),
]


@pytest.mark.parametrize("driver_error", TRANSIENT)
def test_transient_faults_are_recognised(driver_error: BaseException) -> None:
    assert transient_fault(_wrapped(driver_error)) is not None
    assert transient_fault(driver_error) is not None


@pytest.mark.parametrize("driver_error", NOT_TRANSIENT)
def test_other_errors_are_not_transient(driver_error: BaseException) -> None:
    assert transient_fault(_wrapped(driver_error)) is None
    assert transient_fault(ValueError("not a database error")) is None


def test_an_invalidated_connection_is_transient_whatever_the_driver_says() -> None:
    error = OperationalError("SELECT 1", None, RuntimeError("socket closed"))
    error.connection_invalidated = True
    assert transient_fault(error) == "connection lost"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt in range(1, 8):
        step = min(1.0, 0.1 * 2 ** (attempt - 1))
        for _ in range(50):
            assert step / 2 <= backoff_delay(attempt, 0.1, 1.0) <= step
    assert len({backoff_delay(3, 0.1, 1.0) for _ in range(20)}) > 1  # jittered


@pytest.mark.parametrize("driver_error", TRANSIENT)
def test_a_transient_fault_is_rolled_back_and_retried_until_it_succeeds(
    engine: Engine, driver_error: BaseException
) -> None:
    calls = 0
    recorder = Recorder()

    def work(session: Session) -> str:
        nonlocal calls
        calls += 1
        session.add(_log(f"attempt-{calls}"))
        session.flush()  # the row is written inside the transaction ...
        if calls <= 3:
            raise _wrapped(driver_error)  # ... then the attempt fails
        return "done"

    result = run_with_retries(
        engine, work, RetryPolicy(attempts=5, on_retry=recorder.on_retry, sleep=recorder.sleep)
    )

    assert result == "done"
    assert calls == 4
    assert recorder.retried == [1, 2, 3]
    assert len(recorder.delays) == 3
    # Only the successful attempt's row: the three failed ones were rolled back.
    assert _log_ids(engine) == ["attempt-4"]


@pytest.mark.parametrize("driver_error", NOT_TRANSIENT)
def test_a_non_transient_error_is_raised_at_once_and_rolled_back(
    engine: Engine, driver_error: BaseException
) -> None:
    calls = 0
    recorder = Recorder()

    def work(session: Session) -> None:
        nonlocal calls
        calls += 1
        session.add(_log("written-before-the-error"))
        session.flush()
        raise _wrapped(driver_error)

    with pytest.raises(OperationalError) as raised:
        run_with_retries(engine, work, RetryPolicy(sleep=recorder.sleep))

    assert raised.value.orig is driver_error
    assert calls == 1
    assert recorder.delays == []
    assert _log_ids(engine) == []


def test_a_real_integrity_error_is_not_retried(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_log("taken"))
        session.commit()
    calls = 0

    def work(session: Session) -> None:
        nonlocal calls
        calls += 1
        session.add(_log("taken"))
        session.flush()

    with pytest.raises(IntegrityError):
        run_with_retries(engine, work, RetryPolicy(sleep=Recorder().sleep))
    assert calls == 1


def test_exhausted_attempts_raise_the_last_error_with_a_clear_message(engine: Engine) -> None:
    errors: list[OperationalError] = []
    recorder = Recorder()

    def work(session: Session) -> None:
        session.add(_log(f"attempt-{len(errors)}"))
        session.flush()
        errors.append(_wrapped(sqlite3.OperationalError("database is locked")))
        raise errors[-1]

    with pytest.raises(RetriesExhausted) as raised:
        run_with_retries(engine, work, RetryPolicy(attempts=3, sleep=recorder.sleep))

    assert len(errors) == 3
    assert len(recorder.delays) == 2  # no pointless wait after the last attempt
    assert raised.value.__cause__ is errors[-1]
    assert raised.value.last_error is errors[-1]
    assert raised.value.attempts == 3
    message = str(raised.value)
    assert "gave up after 3 attempt(s)" in message
    assert "database is locked" in message
    assert _log_ids(engine) == []


def test_core_work_is_retried_after_a_rollback(engine: Engine) -> None:
    calls = 0

    def work(connection: Connection) -> int:
        nonlocal calls
        calls += 1
        connection.execute(insert(WorkflowLog), _row(f"core-{calls}"))
        if calls == 1:
            raise _wrapped(psycopg.errors.SerializationFailure("could not serialize"))
        return int(connection.scalar(select(func.count()).select_from(WorkflowLog)) or 0)

    assert run_connection_with_retries(engine, work, RetryPolicy(sleep=Recorder().sleep)) == 1
    assert calls == 2
    assert _log_ids(engine) == ["core-2"]


def _row(log_id: str) -> dict[str, Any]:
    return {
        "log_id": log_id,
        "workflow_id": "wf-retry",
        "agent_name": "retry-test",
        "action": "write",
        "status": WorkflowStatus.COMPLETED,
    }


def test_attempts_must_be_positive(engine: Engine) -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        RetryPolicy(attempts=0)


# --- real faults ------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine_with_short_busy_timeout(migrated_url: URL) -> Iterator[Engine]:
    if migrated_url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's busy timeout")
    engine = make_engine(migrated_url)

    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        # Registered after make_engine's own listener, so it overrides the 30 s default.
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    yield engine
    engine.dispose()


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_sqlite_lock_held_past_the_busy_timeout_is_retried(
    sqlite_engine_with_short_busy_timeout: Engine, migrated_url: URL
) -> None:
    engine = sqlite_engine_with_short_busy_timeout
    # Another client (not our engine) holds the write lock.
    holder = sqlite3.connect(str(migrated_url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute(
        "INSERT INTO store_clusters (cluster_id, cluster_name, fashion_tier) "
        "VALUES ('C-holder', 'held', 'VALUE')"
    )
    failures: list[BaseException] = []

    def release_after_two_failures(attempt: int, error: BaseException, _delay: float) -> None:
        failures.append(error)
        if attempt == 2:
            holder.execute("COMMIT")

    def work(session: Session) -> int:
        session.add(
            StoreCluster(cluster_id="C-retry", cluster_name="retried", fashion_tier="VALUE")
        )
        session.flush()
        return int(session.scalar(select(func.count()).select_from(StoreCluster)) or 0)

    try:
        count = run_with_retries(
            engine,
            work,
            RetryPolicy(attempts=5, base_delay=0.01, on_retry=release_after_two_failures),
        )
    finally:
        holder.close()

    assert count == 2
    assert len(failures) == 2
    assert all("database is locked" in str(error) for error in failures)
    with Session(engine) as session:
        rows = session.execute(select(StoreCluster.cluster_id, StoreCluster.fashion_tier))
        tiers = {cluster_id: tier for cluster_id, tier in rows}
    assert tiers == {"C-holder": FashionTier.VALUE, "C-retry": FashionTier.VALUE}


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_sqlite_lock_that_is_never_released_exhausts_the_attempts(
    sqlite_engine_with_short_busy_timeout: Engine, migrated_url: URL
) -> None:
    holder = sqlite3.connect(str(migrated_url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(RetriesExhausted, match=r"gave up after 3 attempt.*database is locked"):
            run_with_retries(
                sqlite_engine_with_short_busy_timeout,
                lambda session: session.add(_log("never")),
                RetryPolicy(attempts=3, base_delay=0.01),
            )
    finally:
        holder.close()


@pytest.mark.postgresql
@pytest.mark.parametrize("backend_name", ["postgresql"], indirect=True)
def test_a_dropped_postgresql_connection_is_retried(engine: Engine, postgres_admin: Engine) -> None:
    calls = 0
    failures: list[BaseException] = []

    def work(session: Session) -> int:
        nonlocal calls
        calls += 1
        session.add(_log(f"before-the-drop-{calls}"))
        session.flush()
        if calls == 1:
            backend_pid = session.scalar(text("SELECT pg_backend_pid()"))
            with postgres_admin.connect() as admin:
                terminated = admin.scalar(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid}
                )
            assert terminated is True
        session.add(_log(f"after-the-drop-{calls}"))
        session.flush()  # on the first attempt the server has gone: this fails
        return calls

    result = run_with_retries(
        engine,
        work,
        RetryPolicy(
            attempts=3,
            base_delay=0.01,
            on_retry=lambda _attempt, error, _delay: failures.append(error),
        ),
    )

    assert result == 2
    assert len(failures) == 1
    assert transient_fault(failures[0]) is not None
    assert _log_ids(engine) == ["after-the-drop-2", "before-the-drop-2"]
