"""database/arrow.py: an ADBC connection from the project's URL, on both backends."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from backend.app.database import arrow as arrow_module
from backend.app.database.arrow import (
    BulkConnection,
    arrow_connection,
    arrow_snapshot,
    arrow_transaction,
    driver_uri,
    is_sqlite,
)
from backend.app.database.db import SQLITE_BUSY_TIMEOUT_MS

sqlite_only = pytest.mark.parametrize("backend_name", ["sqlite"])


def _category_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT category_id FROM categories ORDER BY 1"))
        return [row[0] for row in rows]


def _insert_category(connection: BulkConnection, category_id: str) -> None:
    connection.execute(
        "INSERT INTO categories (category_id, category_name, season_start_date,"
        " season_end_date, season_length_weeks, archetype)"
        f" VALUES ('{category_id}', 'Name', '2025-02-03', '2025-08-04', 26, 'FASHION_RETAIL')"
    )


# --- the driver's URI ----------------------------------------------------------------------


def test_a_sqlite_url_becomes_its_file_path() -> None:
    assert driver_uri("sqlite:///./fashion_forecast.db") == "./fashion_forecast.db"
    assert driver_uri("sqlite:////tmp/x y/f.db") == "/tmp/x y/f.db"
    assert driver_uri("sqlite:///file:/tmp/f.db?mode=ro&uri=true") == "file:/tmp/f.db"
    assert is_sqlite("sqlite:///f.db")
    assert not is_sqlite("postgresql://h/db")


def test_a_postgresql_url_loses_its_sqlalchemy_driver_and_keeps_the_rest() -> None:
    url = "postgresql+psycopg://alice:s%40cret@db.example:6543/ff?sslmode=require"
    assert driver_uri(url) == "postgresql://alice:s%40cret@db.example:6543/ff?sslmode=require"
    assert driver_uri("postgresql://bob@h/db") == "postgresql://bob@h/db"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        driver_uri(url)


def test_a_backend_without_a_driver_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        driver_uri("mysql://h/db")


# --- one database, seen by the engine and by Arrow -------------------------------------------


def test_arrow_reads_what_the_engine_wrote(engine: Engine, migrated_url: URL) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (category_id, category_name, season_start_date,"
                " season_end_date, season_length_weeks, archetype) VALUES"
                " ('womens', 'Women', :start, :end, 26, 'FASHION_RETAIL')"
            ),
            {"start": date(2025, 2, 3), "end": date(2025, 8, 4)},
        )
    with arrow_connection(migrated_url) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT category_id, season_length_weeks FROM categories")
        table = cursor.fetch_arrow_table()
    assert table.to_pylist() == [{"category_id": "womens", "season_length_weeks": 26}]


def test_a_transaction_commits_a_batch_ingest_and_statements(
    engine: Engine, migrated_url: URL
) -> None:
    batch = pa.table({"category_id": ["a", "b", "c"]})
    with arrow_transaction(migrated_url) as connection:
        connection.ingest("staged_ids", batch, mode="create", temporary=True)
        connection.execute(
            "INSERT INTO categories (category_id, category_name, season_start_date,"
            " season_end_date, season_length_weeks, archetype)"
            " SELECT category_id, 'Name', '2025-02-03', '2025-08-04', 26, 'FASHION_RETAIL'"
            " FROM staged_ids"
        )
    assert _category_ids(engine) == ["a", "b", "c"]


def test_a_failed_transaction_leaves_the_database_as_it_was(
    engine: Engine, migrated_url: URL
) -> None:
    with arrow_transaction(migrated_url) as connection:
        _insert_category(connection, "kept")
    with pytest.raises(RuntimeError, match="stop"), arrow_transaction(migrated_url) as connection:
        _insert_category(connection, "lost")
        connection.execute("DELETE FROM categories WHERE category_id = 'kept'")
        raise RuntimeError("stop")
    assert _category_ids(engine) == ["kept"]


def test_a_constraint_error_rolls_the_whole_transaction_back(
    engine: Engine, migrated_url: URL
) -> None:
    unique = pytest.raises(Exception, match=r"(?i)unique|duplicate")
    with unique, arrow_transaction(migrated_url) as connection:
        _insert_category(connection, "once")
        _insert_category(connection, "once")
    assert _category_ids(engine) == []


def test_a_statement_returns_its_rows(migrated_url: URL) -> None:
    with arrow_transaction(migrated_url) as connection:
        _insert_category(connection, "womens")
        _insert_category(connection, "mens")
        rows = connection.execute(
            "SELECT category_id, season_length_weeks + 1 FROM categories ORDER BY category_id"
        )
        assert connection.execute("SELECT category_id FROM categories WHERE 1 = 0") == []
    assert rows == [("mens", 27), ("womens", 27)]


# --- SQLite: the engine's settings --------------------------------------------------------------


@sqlite_only
def test_a_sqlite_arrow_connection_gets_the_engine_pragmas(migrated_url: URL) -> None:
    with arrow_connection(migrated_url) as connection:
        cursor = connection.cursor()
        settings = {}
        for pragma in ("foreign_keys", "busy_timeout", "journal_mode"):
            cursor.execute(f"PRAGMA {pragma}")
            settings[pragma] = cursor.fetchall()[0][0]
    assert settings == {
        "foreign_keys": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "journal_mode": "wal",
    }


@sqlite_only
def test_a_sqlite_write_transaction_takes_the_write_lock_up_front(migrated_url: URL) -> None:
    path = migrated_url.database
    assert path is not None

    def another_writer_can_start() -> bool:
        # Another process: the driver carries its own SQLite library, and POSIX locks do
        # not conflict within one process (see database/arrow.py).
        probe = (
            "import sqlite3, sys\n"
            "other = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
            "try:\n"
            "    other.execute('BEGIN IMMEDIATE'); other.execute('ROLLBACK'); print('free')\n"
            "except sqlite3.OperationalError as error:\n"
            "    print(error)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe, path], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() in ("free", "database is locked")
        return result.stdout.strip() == "free"

    with arrow_transaction(migrated_url):
        assert not another_writer_can_start()
    assert another_writer_can_start()


@sqlite_only
def test_a_sqlite_arrow_connection_enforces_foreign_keys(migrated_url: URL) -> None:
    refused = pytest.raises(Exception, match=r"(?i)foreign key")
    with refused, arrow_transaction(migrated_url) as connection:
        connection.execute(
            "INSERT INTO historical_sales (sale_id, store_id, category_id,"
            " week_start_date, units_sold) VALUES ('x', 'nope', 'nope', '2025-02-03', 1)"
        )


# --- connections on one snapshot ---------------------------------------------------------


def _count_categories(connection: object) -> int:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute("SELECT count(*) FROM categories")
        return int(cursor.fetchall()[0][0])
    finally:
        cursor.close()


def _commit_category(url: URL, category_id: str) -> None:
    # Through the Arrow driver: on SQLite the same library copy as the readers, so the
    # write sees their read locks (see database/arrow.py).
    with arrow_transaction(url) as connection:
        _insert_category(connection, category_id)


@pytest.mark.parametrize("count", [2, 3])
def test_snapshot_connections_all_read_the_state_they_started_on(
    migrated_url: URL, count: int
) -> None:
    _commit_category(migrated_url, "BEFORE")
    with arrow_snapshot(migrated_url, count) as connections:
        assert len(connections) == count
        _commit_category(migrated_url, "AFTER")
        assert [_count_categories(c) for c in connections] == [1] * count
    with arrow_connection(migrated_url) as connection:
        assert _count_categories(connection) == 2


def test_one_snapshot_connection_is_a_plain_one(migrated_url: URL) -> None:
    with arrow_snapshot(migrated_url, 1) as (connection,):
        _commit_category(migrated_url, "AFTER")
        assert _count_categories(connection) == 1  # autocommit: each read sees the latest
    with pytest.raises(ValueError, match="at least one"), arrow_snapshot(migrated_url, 0):
        pass


def test_a_given_first_connection_is_used_and_left_open(migrated_url: URL) -> None:
    with arrow_connection(migrated_url) as first:
        with arrow_snapshot(migrated_url, 2, first) as connections:
            assert connections[0] is first
            _commit_category(migrated_url, "AFTER")
            assert [_count_categories(c) for c in connections] == [0, 0]
        assert _count_categories(first) == 1  # out of the snapshot's transaction, still open


@sqlite_only
def test_sqlite_readers_interrupted_by_commits_fall_back_to_one(
    migrated_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit landing while the readers start every time: one reader, not readers of
    different states."""
    real_execute = arrow_module._execute
    commits = iter(range(100))

    def execute_then_commit(connection: object, sql: str) -> list[tuple[object, ...]]:
        found = real_execute(connection, sql)  # type: ignore[arg-type]
        if sql.startswith("SELECT count(*) FROM sqlite_schema"):
            _commit_category(migrated_url, f"C{next(commits)}")
        return found

    monkeypatch.setattr(arrow_module, "_execute", execute_then_commit)
    with arrow_snapshot(migrated_url, 2) as connections:
        assert len(connections) == 1
        seen = _count_categories(connections[0])
        _commit_category(migrated_url, "LATE")
        assert _count_categories(connections[0]) == seen  # still in its transaction
    assert seen == 2 * arrow_module.SNAPSHOT_TRIES
