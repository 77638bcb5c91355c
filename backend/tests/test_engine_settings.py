"""db.py: connection settings, transactions, URLs, sessions, and timestamps in UTC."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from backend.app.database import db as db_module
from backend.app.database.db import (
    DEFAULT_DATABASE_URL,
    SQLITE_BUSY_TIMEOUT_MS,
    database_url,
    make_engine,
    normalize_url,
    read_only,
    redacted,
    session_scope,
    sqlite_file,
)
from backend.app.models import Category, Store, StoreCluster, metadata
from backend.tests.support.rows import VALID_ROWS, valid_row

sqlite_only = pytest.mark.parametrize("backend_name", ["sqlite"])


# --- SQLite connection settings ----------------------------------------------------------


@sqlite_only
def test_every_sqlite_connection_gets_the_pragmas(engine: Engine) -> None:
    connections = [engine.connect() for _ in range(3)]  # three distinct pooled connections
    try:
        for connection in connections:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert timeout == SQLITE_BUSY_TIMEOUT_MS
            connection.rollback()
    finally:
        for connection in connections:
            connection.close()


def _another_writer_can_start(path: str | None) -> bool:
    """Whether a second client could take the write lock right now (no waiting)."""
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "database is locked" in str(error)
        return False
    finally:
        other.close()


@sqlite_only
def test_a_write_transaction_takes_the_write_lock_when_it_begins(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.begin()
        # Nothing written yet: a DEFERRED begin would hold no lock at this point.
        assert not _another_writer_can_start(engine.url.database)
        connection.rollback()
    assert _another_writer_can_start(engine.url.database)


@sqlite_only
def test_a_read_only_transaction_begins_deferred(engine: Engine) -> None:
    with read_only(engine).connect() as connection:
        connection.begin()
        assert connection.execute(sa.select(sa.func.count()).select_from(Store)).scalar() == 0
        assert _another_writer_can_start(engine.url.database)
        connection.rollback()


@sqlite_only
def test_a_second_writer_waits_instead_of_failing(engine: Engine) -> None:
    clusters = metadata.tables["store_clusters"]
    outcome: list[object] = []
    waiting = threading.Event()

    def second_writer() -> None:
        try:
            waiting.set()
            with engine.begin() as connection:
                # Reads first, then writes: with a DEFERRED begin this is the classic
                # "database is locked" that busy_timeout cannot help.
                connection.execute(sa.select(sa.func.count()).select_from(clusters)).scalar()
                connection.execute(
                    sa.insert(clusters), valid_row("store_clusters", cluster_id="CL2")
                )
            outcome.append("committed")
        except Exception as error:  # the failure being tested for
            outcome.append(error)

    with engine.connect() as first:
        first.begin()
        first.execute(sa.select(sa.func.count()).select_from(clusters)).scalar()
        first.execute(sa.insert(clusters), valid_row("store_clusters"))
        thread = threading.Thread(target=second_writer)
        thread.start()
        waiting.wait()
        thread.join(timeout=0.5)
        assert thread.is_alive(), f"second writer did not wait: {outcome}"
        first.commit()
    thread.join(timeout=60)
    assert outcome == ["committed"]
    with engine.connect() as connection:
        ids = connection.execute(sa.select(clusters.c.cluster_id)).scalars().all()
    assert sorted(ids) == ["CL1", "CL2"]


# --- both backends -----------------------------------------------------------------------


def test_echo_is_off_unless_asked_for(
    migrated_url: URL, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def printed_sql(engine: Engine) -> str:
        with engine.connect() as connection:
            connection.execute(text("SELECT 12345"))
        engine.dispose()
        captured = capfd.readouterr()
        return captured.out + captured.err

    monkeypatch.delenv("FFDB_SQL_ECHO", raising=False)
    assert "SELECT 12345" not in printed_sql(make_engine(migrated_url))
    monkeypatch.setenv("FFDB_SQL_ECHO", "1")
    assert "SELECT 12345" in printed_sql(make_engine(migrated_url))


def test_a_failed_bulk_insert_does_not_dump_its_parameters(engine: Engine) -> None:
    stores = metadata.tables["stores"]
    rows = [
        valid_row("stores", store_id=f"BULK-{i:05d}", store_name=f"secret-name-{i:05d}")
        for i in range(5_000)
    ]
    with engine.connect() as connection, pytest.raises(IntegrityError) as refused:
        connection.execute(sa.insert(stores), rows)  # no cluster CL1: every row is an orphan
    message = str(refused.value)
    assert "BULK-0" not in message and "secret-name" not in message
    assert "parameters hidden" in message
    assert len(message) < 2_000


def test_postgresql_engines_use_psycopg_and_pre_ping(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.pool._pre_ping is True
    else:
        assert engine.url.drivername == "sqlite"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg"),
        ("postgres://u:p@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///./fashion_forecast.db", "sqlite"),
    ],
)
def test_normalize_url_points_bare_postgresql_at_psycopg3(given: str, driver: str) -> None:
    normalized = normalize_url(given)
    assert normalized.drivername == driver
    assert normalized.database == make_url_database(given)


def make_url_database(url: str) -> str | None:
    return sa.make_url(url).database


def test_redacted_hides_the_password() -> None:
    shown = redacted("postgresql://planner:s3cr3t-pw@db.example:5432/forecasts")
    assert "s3cr3t-pw" not in shown
    assert shown == "postgresql+psycopg://planner:***@db.example:5432/forecasts"
    assert redacted("sqlite:///./fashion_forecast.db") == "sqlite:///./fashion_forecast.db"


def test_database_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url() == normalize_url(DEFAULT_DATABASE_URL)
    assert DEFAULT_DATABASE_URL == "sqlite:///./fashion_forecast.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/x")
    assert database_url().drivername == "postgresql+psycopg"


def test_session_scope_commits_rolls_back_and_closes(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(StoreCluster(**VALID_ROWS["store_clusters"]))
    kept = session
    with pytest.raises(RuntimeError, match="planned failure"), session_scope(engine) as session:
        session.add(StoreCluster(**valid_row("store_clusters", cluster_id="CL2")))
        session.flush()
        raise RuntimeError("planned failure")
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Store(**valid_row("stores", cluster_id="no-such-cluster")))
    with engine.connect() as connection:
        ids = connection.execute(sa.select(StoreCluster.cluster_id)).scalars().all()
        stores = connection.execute(sa.select(sa.func.count()).select_from(Store)).scalar()
    assert ids == ["CL1"] and stores == 0
    for closed in (kept, session):
        assert not closed.in_transaction() and list(closed) == []


def test_get_db_yields_one_session_and_closes_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "SessionLocal", sessionmaker(bind=engine))
    with session_scope(engine) as setup:
        setup.add(StoreCluster(**VALID_ROWS["store_clusters"]))
    dependency = db_module.get_db()
    session = next(dependency)
    cluster = session.get(StoreCluster, "CL1")
    assert cluster is not None and sa.inspect(cluster).persistent
    with pytest.raises(StopIteration):
        next(dependency)
    assert sa.inspect(cluster).detached
    assert not session.in_transaction()


# --- created_at: aware UTC on every backend ----------------------------------------------


@pytest.fixture
def tokyo_engine(migrated_url: URL) -> Iterator[Engine]:
    """On PostgreSQL a session in another time zone: UTC must not depend on it."""
    options = {}
    if migrated_url.get_backend_name() == "postgresql":
        options["connect_args"] = {"options": "-c timezone=Asia/Tokyo"}
    engine = make_engine(migrated_url, **options)
    yield engine
    engine.dispose()


def test_created_at_reads_back_aware_utc(tokyo_engine: Engine) -> None:
    before = datetime.now(UTC)
    with session_scope(tokyo_engine) as session:
        session.add(Category(**VALID_ROWS["categories"]))
        given = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
        session.add(Category(**valid_row("categories", category_id="CAT2"), created_at=given))
    with Session(tokyo_engine) as session:
        defaulted = session.get(Category, "CAT1")
        explicit = session.get(Category, "CAT2")
        assert defaulted is not None and explicit is not None
        assert defaulted.created_at is not None and explicit.created_at is not None
        for value in (defaulted.created_at, explicit.created_at):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert explicit.created_at == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
        assert abs(defaulted.created_at - before) < timedelta(minutes=5)


def test_naive_datetimes_are_refused_on_write(engine: Engine) -> None:
    with Session(engine) as session:
        naive = datetime(2025, 3, 1, 12, 0)
        session.add(Category(**VALID_ROWS["categories"], created_at=naive))
        with pytest.raises(StatementError, match="naive datetime 2025-03-01T12:00:00 refused"):
            session.flush()


@sqlite_only
def test_sqlite_datetime_now_from_raw_sql_reads_back_as_utc(engine: Engine) -> None:
    before = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO store_clusters VALUES ('CL1', 'Test', 'VALUE', NULL, datetime('now'))"
            )
        )
        # The story's positional INSERT, with a cluster that exists.
        connection.execute(
            text(
                "INSERT INTO stores VALUES ('S99', 'Test Store', 'CL1', 5000, 'A', 50000,"
                " 'MALL', 'WEST', 1000.0, datetime('now'))"
            )
        )
    with Session(engine) as session:
        store = session.get(Store, "S99")
        assert store is not None and store.created_at is not None
        assert store.created_at.tzinfo is not None and store.created_at.utcoffset() == timedelta(0)
        assert abs(store.created_at - before) < timedelta(minutes=5)
        assert store.cluster.fashion_tier == "VALUE"


@pytest.mark.parametrize(
    "written", ["2025-03-01 12:30:00+02:00", "2025-03-01T10:30:00Z", "2025-03-01 10:30:00"]
)
def test_timestamps_written_by_other_clients_read_back_as_the_same_instant(
    engine: Engine, written: str
) -> None:
    # Offsets are honoured; a bare timestamp is UTC, as SQLite's CURRENT_TIMESTAMP is.
    # (A bare literal on PostgreSQL is read in the session's time zone: its rule, not ours.)
    if engine.dialect.name == "postgresql" and written[-1].isdigit() and "+" not in written:
        written += "+00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO store_clusters (cluster_id, cluster_name, fashion_tier, created_at)"
                f" VALUES ('CL1', 'Test', 'VALUE', '{written}')"
            )
        )
    with Session(engine) as session:
        cluster = session.get(StoreCluster, "CL1")
        assert cluster is not None
        assert cluster.created_at == datetime(2025, 3, 1, 10, 30, tzinfo=UTC)
        assert cluster.created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("sqlite:///./fashion_forecast.db", "fashion_forecast.db"),
        ("sqlite:////tmp/x/ff.db", "/tmp/x/ff.db"),
        ("sqlite:///file:/tmp/ff.db?uri=true", "/tmp/ff.db"),
        ("postgresql://u@h/db", None),
    ],
)
def test_one_answer_to_which_file_a_sqlite_url_names(url: str, expected: str | None) -> None:
    found = sqlite_file(url)
    assert (None if found is None else str(found)) == expected


def test_importing_the_models_reads_no_environment_and_opens_nothing(tmp_path: Path) -> None:
    # A broken DATABASE_URL only matters once something connects: importing the story's
    # modules must not build the engine (it is made on first use).
    script = (
        "import backend.app.models, backend.app.database.db as db\n"
        "assert db._default_engine is None\n"
        "print('imported')\n"
    )
    env = {**os.environ, "DATABASE_URL": "not a url"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


def test_the_story_names_build_the_engine_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "story.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{target}")
    monkeypatch.setattr(db_module, "_default_engine", None)
    monkeypatch.setattr(db_module, "_default_sessions", None)
    from backend.app.database.db import SessionLocal, engine

    assert isinstance(engine, Engine) and engine.url.database == str(target)
    assert db_module.engine is engine  # one engine, not one per read
    with SessionLocal() as session:
        assert session.bind is engine
        assert session.scalar(text("SELECT 1")) == 1
    engine.dispose()
