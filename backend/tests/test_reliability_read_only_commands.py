"""Read-only commands never take the write lock: they run beside a long import (issue 12, 3).

Another connection holds a write transaction open (on SQLite the write lock that
``BEGIN IMMEDIATE`` takes, on PostgreSQL an EXCLUSIVE lock on every table, which lets
readers in and keeps writers out) while each read-only command runs. Lock waits are
cut to a fraction of a second, so a command that tried to write would fail, not hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, text
from sqlalchemy.engine import URL

from backend.app.database import db
from backend.app.database.db import make_engine
from backend.app.models import WorkflowLog, metadata
from backend.app.models.enums import WorkflowStatus
from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import small_season

READ_ONLY_COMMANDS = [
    ["stats"],
    ["check"],
    ["current"],
    ["history"],
    ["doctor"],
    ["export", "stores"],
    ["export", "historical_sales", "-o", "{tmp}/history.csv"],
    ["variance", "F1", "--week", "2"],
    ["sell-through", "F1", "--week", "2"],
]


@pytest.fixture
def writer_holding_the_lock(
    migrated_url: URL, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Connection]:
    small_season().write(migrated_url)
    # Waits for a lock end in a fraction of a second instead of 30 s.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=300")
    engine = make_engine(migrated_url)
    with engine.connect() as writer:
        writer.execute(
            insert(WorkflowLog).values(
                log_id="held",
                workflow_id="wf-held",
                agent_name="importer",
                action="import",
                status=WorkflowStatus.STARTED,
            )
        )
        if writer.dialect.name == "postgresql":
            tables = ", ".join(sorted(metadata.tables))
            writer.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
        yield writer
        writer.rollback()
    engine.dispose()


@pytest.mark.parametrize("args", READ_ONLY_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_read_only_commands_run_beside_a_writer_holding_its_lock(
    writer_holding_the_lock: Connection,
    migrated_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    argv = [arg.format(tmp=tmp_path) for arg in args]

    result = run_ffdb(capsys, *argv, "--database-url", migrated_url)

    assert result.exit_code == 0, result.output
    assert "locked" not in result.output and "timeout" not in result.output
    # The writer is still in its transaction and can go on writing.
    writer_holding_the_lock.execute(
        text("UPDATE workflow_logs SET action = 'import' WHERE log_id = 'held'")
    )
