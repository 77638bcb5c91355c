"""Readers never block writers, and never see a half-written batch.

On SQLite this is WAL: readers read a snapshot while one writer appends to the log.
On PostgreSQL it is MVCC: uncommitted rows are invisible, and a REPEATABLE READ
transaction keeps one snapshot throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, insert, select
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine, read_only
from backend.app.models import WorkflowLog
from backend.app.models.enums import WorkflowStatus

BATCHES = 4
BATCH_ROWS = 250


def _rows(batch: int) -> list[dict[str, Any]]:
    return [
        {
            "log_id": f"log-{batch}-{number:04d}",
            "workflow_id": "wf-import",
            "agent_name": "importer",
            "action": "import",
            "input_data": {"batch": batch, "row": number},
            "status": WorkflowStatus.COMPLETED,
        }
        for number in range(BATCH_ROWS)
    ]


def _count(connection: Connection) -> int:
    return int(connection.scalar(select(func.count()).select_from(WorkflowLog)) or 0)


def _fresh_count(engine: Engine) -> int:
    with read_only(engine).connect() as reader:
        return _count(reader)


@pytest.fixture
def impatient_engine(migrated_url: URL) -> Iterator[Engine]:
    """An engine that gives up on a lock after 200 ms instead of waiting 30 s.

    Were a reader to block the writer, the writer would fail fast with "database is
    locked" (SQLite) or a lock timeout (PostgreSQL) instead of hanging the test.
    """
    engine = make_engine(migrated_url)

    @event.listens_for(engine, "connect")
    def _short_lock_wait(dbapi_connection: Any, _record: Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.execute("PRAGMA busy_timeout=200")
        else:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")
            dbapi_connection.commit()

    yield engine
    engine.dispose()


def _snapshot_reader(engine: Engine) -> Connection:
    """A reader holding one snapshot until it ends: WAL on SQLite, REPEATABLE READ on PG."""
    bind = read_only(engine)
    if engine.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="REPEATABLE READ")
    return bind.connect()


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_sqlite_databases_run_in_wal_mode(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_reader_sees_none_of_a_batch_until_it_commits_then_all_of_it(engine: Engine) -> None:
    with engine.connect() as writer:
        writer.begin()
        for batch in range(BATCHES):
            writer.execute(insert(WorkflowLog), _rows(batch))
            assert _count(writer) == (batch + 1) * BATCH_ROWS  # the writer sees its rows
            assert _fresh_count(engine) == 0  # nobody else sees any of them
        writer.commit()
    assert _fresh_count(engine) == BATCHES * BATCH_ROWS


def test_a_reader_keeps_its_snapshot_while_a_writer_commits(
    engine: Engine, impatient_engine: Engine
) -> None:
    with engine.begin() as setup:
        setup.execute(insert(WorkflowLog), _rows(0))
    with _snapshot_reader(engine) as reader:
        reader.begin()
        assert _count(reader) == BATCH_ROWS  # the snapshot is taken here
        for batch in range(1, BATCHES):
            # The writer commits while the reader's transaction is open: not blocked.
            with impatient_engine.begin() as writer:
                writer.execute(insert(WorkflowLog), _rows(batch))
            assert _count(reader) == BATCH_ROWS  # still the snapshot, never a part
        reader.rollback()
        assert _count(reader) == BATCHES * BATCH_ROWS  # a new transaction sees all
    assert _fresh_count(engine) == BATCHES * BATCH_ROWS


def test_readers_do_not_block_a_writer_reading_the_same_rows(
    engine: Engine, impatient_engine: Engine
) -> None:
    with engine.begin() as setup:
        setup.execute(insert(WorkflowLog), _rows(0))
    readers = [_snapshot_reader(engine) for _ in range(3)]
    try:
        for reader in readers:
            reader.begin()
            assert len(reader.execute(select(WorkflowLog.log_id)).all()) == BATCH_ROWS
        with impatient_engine.begin() as writer:
            writer.execute(
                WorkflowLog.__table__.update().values(action="reimported")  # type: ignore[attr-defined]
            )
            writer.execute(insert(WorkflowLog), _rows(1))
        for reader in readers:
            actions = set(reader.scalars(select(WorkflowLog.action)))
            assert actions == {"import"}  # the readers' snapshots are untouched
    finally:
        for reader in readers:
            reader.close()
    with impatient_engine.connect() as after:
        assert set(after.scalars(select(WorkflowLog.action))) == {"reimported", "import"}
        assert _count(after) == 2 * BATCH_ROWS
