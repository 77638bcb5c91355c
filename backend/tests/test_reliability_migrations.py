"""Upgrades keep data, and a crash mid-migration leaves a database an upgrade completes.

Rows are written with the schema of the first revision (reflected, not the models, which
describe head) and compared after every step of the chain, whatever revisions it holds.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, pool, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance import integrity
from backend.app.maintenance.schema_version import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
)
from backend.tests.support import workers
from backend.tests.support.backends import chain
from backend.tests.support.cli import run_ffdb
from backend.tests.support.samples import first_revision, populate_at_first_revision
from backend.tests.support.snapshot import assert_kept, snapshot


def _engine(url: URL) -> Engine:
    return make_engine(url, poolclass=pool.NullPool)


def _revision_of(url: URL) -> str | None:
    engine = _engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _sqlite_health(url: URL) -> tuple[list[str], list[Any], list[str]]:
    """integrity_check, foreign_key_check and the missing FK guard triggers."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            checks = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
            orphans = list(connection.exec_driver_sql("PRAGMA foreign_key_check"))
            return checks, orphans, integrity.missing_guards(connection)
    finally:
        engine.dispose()


def test_every_upgrade_and_downgrade_step_keeps_the_data(empty_database_url: URL) -> None:
    revisions = chain()
    original = populate_at_first_revision(empty_database_url)
    assert sum(len(rows) for rows in original.values()) == first_revision().count()
    config = alembic_config(empty_database_url)
    steps = 0
    for revision in revisions[1:]:
        command.upgrade(config, revision)
        steps += 1
        assert _revision_of(empty_database_url) == revision
        assert_kept(original, snapshot(empty_database_url), f"upgrade to {revision}")
    # And back down to the first revision, step by step, then up to head again.
    for revision in reversed(revisions[:-1]):
        command.downgrade(config, revision)
        steps += 1
        assert _revision_of(empty_database_url) == revision
        assert_kept(original, snapshot(empty_database_url), f"downgrade to {revision}")
    command.upgrade(config, "head")
    assert _revision_of(empty_database_url) == head_revision()
    assert_kept(original, snapshot(empty_database_url), "upgrade to head again")
    if empty_database_url.get_backend_name() == "sqlite":
        assert _sqlite_health(empty_database_url) == (["ok"], [], [])
    print(f"{len(revisions)} revision(s), {steps} step(s) checked, data kept")


# --- crash mid-migration (SQLite: the embedded database a laptop loses power under) ---------

SLOW_REVISION = '''"""Test only: rebuilds a table, then waits to be killed, then finishes.

Revision ID: 9000_test_crash
Revises: {down}
"""

import os

import sqlalchemy as sa
from alembic import op

from backend.tests.support.workers import signal_and_wait

revision = "9000_test_crash"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", recreate="always") as batch:
        batch.add_column(sa.Column("crash_test_note", sa.String(), nullable=True))
    op.execute("UPDATE stores SET crash_test_note = 'rebuilt ' || store_id")
    op.execute("DELETE FROM workflow_logs WHERE status = 'failed'")
    marker = os.environ.get("FFDB_TEST_MIGRATION_MARKER")
    if marker:  # set by the test for the run it kills, unset for the run that completes
        signal_and_wait(marker, 600)
    op.create_table("crash_test_after", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("crash_test_after")
    with op.batch_alter_table("stores", recreate="always") as batch:
        batch.drop_column("crash_test_note")
'''


@pytest.fixture
def slow_chain(tmp_path: Path) -> Iterator[Path]:
    """A copy of our migrations with a test-only revision on top that stops mid-way."""
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "9000_test_crash.py").write_text(
        SLOW_REVISION.format(down=head_revision())
    )
    yield location


def _wait_for(marker: Path, process: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert process.is_alive(), f"the migration ended (exit {process.exitcode}) before"
        assert time.monotonic() < deadline, "the migration never reached the kill point"
        time.sleep(0.02)


def _sqlite_url(tmp_path: Path, name: str) -> URL:
    return make_engine(f"sqlite:///{tmp_path / name}").url


@pytest.mark.slow
def test_a_migration_killed_mid_way_leaves_the_old_revision_and_its_data(
    tmp_path: Path, slow_chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _sqlite_url(tmp_path, "crash.db")
    populate_at_first_revision(url)
    command.upgrade(alembic_config(url), "head")
    before = snapshot(url)
    marker = tmp_path / "mid-migration"
    monkeypatch.setenv("FFDB_TEST_MIGRATION_MARKER", str(marker))

    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=workers.run_upgrade,
        args=(url.render_as_string(hide_password=False), str(slow_chain), "head"),
    )
    child.start()
    try:
        _wait_for(marker, child)  # stores rebuilt, rows changed and deleted, not committed
    finally:
        child.kill()
        child.join(timeout=60)
    assert child.exitcode == -9

    assert _revision_of(url) == head_revision()
    engine = _engine(url)
    try:
        columns = {column["name"] for column in inspect(engine).get_columns("stores")}
    finally:
        engine.dispose()
    assert "crash_test_note" not in columns
    assert snapshot(url) == before
    assert _sqlite_health(url) == (["ok"], [], [])

    # Running the upgrade again completes it, on top of the intact data.
    monkeypatch.delenv("FFDB_TEST_MIGRATION_MARKER")
    workers.run_upgrade(url.render_as_string(hide_password=False), str(slow_chain), "head")
    assert _revision_of(url) == "9000_test_crash"
    after = snapshot(url)
    notes = {row["store_id"]: row["crash_test_note"] for row in after["stores"]}
    assert notes == {f"S{n:02d}": f"rebuilt S{n:02d}" for n in range(1, 4)}
    expected = dict(before)
    expected["workflow_logs"] = [r for r in before["workflow_logs"] if r["status"] != "failed"]
    assert_kept(expected, after, "completed upgrade")
    assert after["crash_test_after"] == []
    assert _sqlite_health(url) == (["ok"], [], [])


KILL_DELAYS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5]


@pytest.mark.slow
def test_a_migration_killed_at_any_moment_is_completed_by_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kill ``upgrade head`` from an empty database after various delays; ``ffdb upgrade``
    then completes it and ``ffdb doctor`` finds nothing wrong."""
    context = multiprocessing.get_context("spawn")
    head_tables: set[str] | None = None
    outcomes: list[str] = []
    for number, delay in enumerate(KILL_DELAYS):
        url = _sqlite_url(tmp_path, f"killed-{number}.db")
        ready = context.Event()
        child = context.Process(
            target=workers.run_upgrade_when_told,
            args=(url.render_as_string(hide_password=False), ready),
        )
        child.start()
        try:
            assert ready.wait(timeout=300), "the child never got ready"
            time.sleep(delay)
            alive = child.is_alive()
        finally:
            child.kill()
            child.join(timeout=60)

        revision = _revision_of(url)
        engine = _engine(url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        # One transaction: nothing at all, or the complete head schema.
        if revision is None:
            assert tables <= {"alembic_version"}, f"half a schema after {delay}s: {tables}"
            outcomes.append(f"{delay}s: killed {'mid-run' if alive else 'late'}, nothing kept")
        else:
            assert revision == head_revision()
            outcomes.append(f"{delay}s: {'killed after commit' if alive else 'finished'}")

        upgraded = run_ffdb(capsys, "upgrade", "--database-url", url)
        assert upgraded.exit_code == 0, upgraded.output
        assert _revision_of(url) == head_revision()
        assert _sqlite_health(url) == (["ok"], [], [])
        doctor = run_ffdb(capsys, "doctor", "--database-url", url)
        assert doctor.exit_code == 0, doctor.output
        engine = _engine(url)
        try:
            completed = set(inspect(engine).get_table_names())
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM stores")).scalar() == 0
        finally:
            engine.dispose()
        head_tables = head_tables or completed
        assert completed == head_tables
    print("kill points:", "; ".join(outcomes))
    assert any("mid-run" in outcome for outcome in outcomes)
