"""SQLite online backups: consistent while others write, and restored exactly."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance.backup import (
    BackupError,
    backup_sqlite,
    database_file,
    read_backup,
    restore_sqlite,
)
from backend.app.maintenance.schema_version import head_revision
from backend.app.models import WorkflowLog
from backend.app.models.enums import WorkflowStatus

# SQLite only: PostgreSQL backups are the server's business (pg_dump, base backups).
sqlite_only = pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)

ROWS_PER_TRANSACTION = 20


def _batch(batch: int, action: str = "write") -> list[dict[str, Any]]:
    return [
        {
            "log_id": f"log-{batch:05d}-{number:02d}",
            "workflow_id": f"batch-{batch:05d}",
            "agent_name": "writer",
            "action": action,
            "status": WorkflowStatus.COMPLETED,
        }
        for number in range(ROWS_PER_TRANSACTION)
    ]


def _logs(database: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT log_id, workflow_id, action FROM workflow_logs ORDER BY log_id"
        )
        return [tuple(row) for row in rows]


def _checks(database: Path) -> tuple[list[str], list[Any]]:
    with closing(sqlite3.connect(database)) as connection:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        orphans = connection.execute("PRAGMA foreign_key_check").fetchall()
    return integrity, orphans


@sqlite_only
def test_a_backup_taken_while_another_connection_writes_is_consistent(
    engine: Engine, migrated_url: URL
) -> None:
    database = database_file(migrated_url)
    committed = threading.Event()
    stop = threading.Event()
    batches_written: list[int] = []
    writer_errors: list[BaseException] = []

    def write_until_stopped() -> None:
        try:
            batch = 0
            while not stop.is_set() or batch < 20:
                with engine.begin() as connection:
                    connection.execute(insert(WorkflowLog), _batch(batch))
                batches_written.append(batch)
                batch += 1
                if batch == 10:
                    committed.set()
        except BaseException as error:  # reported by the test, not lost in the thread
            writer_errors.append(error)
            committed.set()

    writer = threading.Thread(target=write_until_stopped)
    writer.start()
    try:
        assert committed.wait(timeout=120)
        backup = backup_sqlite(migrated_url)
    finally:
        stop.set()
        writer.join(timeout=120)
    assert writer_errors == []

    rows = _logs(backup)
    per_transaction = Counter(workflow_id for _, workflow_id, _ in rows)
    # Whole transactions only, and a prefix of them: a snapshot, not a smear.
    assert set(per_transaction.values()) == {ROWS_PER_TRANSACTION}
    assert sorted(per_transaction) == [f"batch-{b:05d}" for b in range(len(per_transaction))]
    assert 10 <= len(per_transaction) <= len(batches_written)
    assert _checks(backup) == (["ok"], [])
    assert read_backup(backup) == head_revision()
    # The writer was not blocked: it went on committing after the backup.
    assert len(_logs(database)) == len(batches_written) * ROWS_PER_TRANSACTION


@sqlite_only
def test_a_backup_is_one_named_file_next_to_the_database(engine: Engine, migrated_url: URL) -> None:
    with engine.begin() as connection:
        connection.execute(insert(WorkflowLog), _batch(1))
    database = database_file(migrated_url)

    backup = backup_sqlite(migrated_url)

    assert backup.parent == database.parent
    prefix = f"{database.name}.backup-{head_revision()}-"
    assert backup.name.startswith(prefix)
    stamp = backup.name.removeprefix(prefix)
    assert len(stamp) == len("20260101T000000000000Z") and stamp.endswith("Z")
    side_files = sorted(p.name for p in database.parent.iterdir() if p.name.startswith(backup.name))
    assert side_files == [backup.name]  # no -wal, -shm or .partial left behind
    with closing(sqlite3.connect(backup)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert _logs(backup) == _logs(database)


@sqlite_only
def test_restore_brings_the_data_back_and_keeps_what_it_replaced(
    engine: Engine, migrated_url: URL
) -> None:
    with engine.begin() as connection:
        connection.execute(insert(WorkflowLog), _batch(1) + _batch(2))
    database = database_file(migrated_url)
    original = _logs(database)
    backup = backup_sqlite(migrated_url)
    with engine.begin() as connection:
        connection.execute(
            WorkflowLog.__table__.delete().where(WorkflowLog.workflow_id == "batch-00001")
        )  # type: ignore[attr-defined]
        connection.execute(insert(WorkflowLog), _batch(3, action="after the backup"))
    changed = _logs(database)
    engine.dispose()  # restore refuses a database that is in use

    result = restore_sqlite(backup, migrated_url)

    assert result.revision == head_revision()
    assert result.database == database
    assert _logs(database) == original
    assert result.previous is not None and _logs(result.previous) == changed
    assert _checks(database) == (["ok"], [])
    # Our engine works on the restored database as before, in WAL mode.
    restored = make_engine(migrated_url)
    try:
        with restored.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            ids = connection.scalars(select(WorkflowLog.log_id).order_by(WorkflowLog.log_id))
            assert list(ids) == [row[0] for row in original]
    finally:
        restored.dispose()


@sqlite_only
def test_restore_into_a_new_file(engine: Engine, migrated_url: URL, tmp_path: Path) -> None:
    with engine.begin() as connection:
        connection.execute(insert(WorkflowLog), _batch(7))
    backup = backup_sqlite(migrated_url)
    target = tmp_path / "elsewhere" / "restored.db"

    result = restore_sqlite(backup, f"sqlite:///{target}")

    assert result.previous is None
    assert _logs(target) == _logs(database_file(migrated_url))


@sqlite_only
def test_restore_refuses_a_database_in_use(engine: Engine, migrated_url: URL) -> None:
    backup = backup_sqlite(migrated_url)
    with engine.begin() as connection:
        connection.execute(insert(WorkflowLog), _batch(1))
    database = database_file(migrated_url)
    before = _logs(database)
    # An agent has it open, even idle.
    with engine.connect(), pytest.raises(BackupError, match="in use by another connection"):
        restore_sqlite(backup, migrated_url)
    assert _logs(database) == before


def _make_file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@sqlite_only
def test_restore_refuses_what_is_not_one_of_our_backups(
    engine: Engine, migrated_url: URL, tmp_path: Path
) -> None:
    with engine.begin() as connection:
        connection.execute(insert(WorkflowLog), _batch(1))
    engine.dispose()
    database = database_file(migrated_url)
    before = _logs(database)

    text_file = _make_file(tmp_path / "notes.txt", b"log_id,workflow_id\n1,2\n")
    with pytest.raises(BackupError, match="is not a SQLite database"):
        restore_sqlite(text_file, migrated_url)

    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupError, match="not a fashion-forecast database"):
        restore_sqlite(foreign, migrated_url)

    future = tmp_path / "future.db"
    with closing(sqlite3.connect(foreign)) as source, closing(sqlite3.connect(future)) as copy:
        source.backup(copy)
        copy.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        copy.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        copy.commit()
    with pytest.raises(BackupError, match="revision 9999_from_the_future, which this version"):
        restore_sqlite(future, migrated_url)

    damaged = backup_sqlite(migrated_url)
    content = bytearray(damaged.read_bytes())
    page_size = int.from_bytes(content[16:18], "big")
    for offset in range(page_size, len(content), page_size):
        content[offset : offset + 64] = b"\xff" * 64  # scribble over every page header
    damaged.write_bytes(bytes(content))
    with pytest.raises(BackupError, match=r"damaged|not a readable SQLite database"):
        restore_sqlite(damaged, migrated_url)

    with pytest.raises(BackupError, match="no such backup file"):
        restore_sqlite(tmp_path / "missing.db", migrated_url)

    assert _logs(database) == before


def test_backups_refuse_urls_without_a_sqlite_file(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match=r"postgresql \(use the server's own tools"):
        backup_sqlite("postgresql://ffdb:s3cret-pw@db.example/ffdb")
    try:
        backup_sqlite("postgresql://ffdb:s3cret-pw@db.example/ffdb")
    except BackupError as error:
        assert "s3cret-pw" not in str(error)
    with pytest.raises(BackupError, match="in-memory"):
        backup_sqlite("sqlite://")
    with pytest.raises(BackupError, match="does not exist"):
        backup_sqlite(f"sqlite:///{tmp_path / 'nothing.db'}")


@sqlite_only
@pytest.mark.parametrize(
    "damage",
    [
        "only alembic_version",
        "DROP TABLE historical_sales",
        "ALTER TABLE store_clusters DROP COLUMN description",
    ],
)
def test_restore_refuses_a_backup_that_lacks_the_schema_of_its_revision(
    engine: Engine, migrated_url: URL, tmp_path: Path, damage: str
) -> None:
    with engine.begin() as connection:
        connection.execute(insert(WorkflowLog), _batch(1))
    engine.dispose()
    database = database_file(migrated_url)
    before = _logs(database)
    bad = tmp_path / "bad.db"
    with closing(sqlite3.connect(bad)) as copy:
        if damage == "only alembic_version":
            copy.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            copy.execute("INSERT INTO alembic_version VALUES (?)", (head_revision(),))
        else:
            with closing(sqlite3.connect(database)) as source:
                source.backup(copy)
            copy.execute("PRAGMA foreign_keys=OFF")
            for name in [
                r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ]:
                copy.execute(f'DROP TRIGGER "{name}"')
            copy.execute(damage)
        copy.commit()

    with pytest.raises(BackupError, match=f"claims revision {head_revision()} but lacks"):
        restore_sqlite(bad, migrated_url)

    assert _logs(database) == before
    assert not [p for p in database.parent.iterdir() if ".backup-" in p.name]
