"""``ffdb transfer``: a populated SQLite database copied to each backend, row by row.

The target is the parametrized ``migrated_url`` (SQLite and PostgreSQL); the source is
a populated SQLite file. The round trip back to SQLite covers PostgreSQL -> SQLite.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine, normalize_url
from backend.app.maintenance import transfer as transfer_module
from backend.app.maintenance.transfer import (
    DEFAULT_BATCH_SIZE,
    TableCopyFailed,
    TargetNotEmpty,
    TargetRevisionMismatch,
    TransferError,
    tables_in_dependency_order,
    transfer,
)
from backend.app.models import (
    Category,
    Forecast,
    Store,
    StoreCluster,
    WorkflowLog,
)
from backend.tests.support.backends import migrate
from backend.tests.support.cli import Result, run_ffdb
from backend.tests.support.databases import EVERY_TABLE, DatabaseCache
from backend.tests.support.samples import HISTORY_WEEKS, every_table
from backend.tests.support.snapshot import snapshot


@pytest.fixture
def source_url(sqlite_cache: DatabaseCache, tmp_path: Path) -> Iterator[URL]:
    """A SQLite database at head holding ``samples.every_table``."""
    with sqlite_cache.copy(EVERY_TABLE, tmp_path / "source.db") as url:
        yield url


@pytest.fixture
def open_engines() -> Any:
    engines: list[Engine] = []

    def open_engine(url: URL | str) -> Engine:
        engine = make_engine(url)
        engines.append(engine)
        return engine

    yield open_engine
    for engine in engines:
        engine.dispose()


Opener = Callable[[URL | str], Engine]


def test_every_row_of_every_table_arrives_equal(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    expected = snapshot(source)
    assert all(expected[table.name] for table in tables_in_dependency_order()), (
        "populate every table"
    )

    report = transfer(source, target, batch_size=7)

    assert snapshot(target) == expected
    assert {copy.table: copy.rows for copy in report.tables} == {
        name: len(rows) for name, rows in expected.items()
    }
    assert report.method == ("copy" if target.dialect.name == "postgresql" else "insert")
    # Values a careless copy would bend: aware created_at, floats, JSON, unicode.
    with Session(target) as session:
        category = session.get(Category, "CAT-DRESS")
        assert category is not None
        assert category.created_at == datetime(2024, 3, 10, 14, 30, 15, 123456, tzinfo=UTC)
        assert category.created_at.tzinfo is UTC
        assert category.category_name == "Robes d'été — «légères» ✨"
        socks = session.get(Category, "CAT-SOCKS")
        assert socks is not None and socks.description is None
        assert socks.created_at is not None and socks.created_at.tzinfo is UTC
        store = session.get(Store, "S01")
        assert store is not None and store.avg_weekly_sales_12mo == 1e-12
        log = session.get(WorkflowLog, "W-1")
        assert log is not None and log.output_data is None
        assert log.input_data is not None and log.input_data["nested"]["ratio"] == 0.1 + 0.2


def test_round_trip_back_to_sqlite_keeps_every_row(
    source_url: URL, migrated_url: URL, tmp_path: Path, open_engines: Opener
) -> None:
    """SQLite -> backend -> SQLite: on PostgreSQL this is the PostgreSQL -> SQLite path."""
    back_url = normalize_url(f"sqlite:///{tmp_path / 'back.db'}")
    migrate(back_url)
    source, middle, back = (open_engines(u) for u in (source_url, migrated_url, back_url))
    transfer(source, middle)
    transfer(middle, back, batch_size=5)
    assert snapshot(back) == snapshot(source)


def test_source_is_streamed_in_bounded_batches(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    reads: list[dict[str, Any]] = []

    @event.listens_for(source, "before_execute")
    def _record(conn: Any, clause: Any, multiparams: Any, params: Any, options: Any) -> None:
        if getattr(clause, "is_select", False) and "count" not in str(clause):
            reads.append(dict(conn.get_execution_options() | options))

    batches: list[int] = []

    class Recorder:
        def table_started(self, table: str, total_rows: int) -> None:
            pass

        def rows_copied(self, table: str, rows: int) -> None:
            batches.append(rows)

        def table_finished(self, table: str, rows: int) -> None:
            pass

    transfer(source, target, batch_size=7, progress=Recorder())

    table_reads = [options for options in reads if "yield_per" in options]
    assert len(table_reads) == len(tables_in_dependency_order())
    assert all(o["stream_results"] is True and o["yield_per"] == 7 for o in table_reads)
    assert max(batches) == 7  # historical_sales (78 rows) went in batches of 7
    assert sum(batches) == sum(len(rows) for rows in snapshot(source).values())
    assert DEFAULT_BATCH_SIZE >= 1_000  # the default keeps round trips few, memory small


def add_cluster(engine: Engine, cluster_id: str, name: str = "target-only") -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(StoreCluster),
            {"cluster_id": cluster_id, "cluster_name": name, "fashion_tier": "MAINSTREAM"},
        )


def test_non_empty_target_is_refused_and_left_alone(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    add_cluster(target, "CL-OTHER")
    before = snapshot(target)

    with pytest.raises(TargetNotEmpty, match=r"store_clusters \(1 row\).*--force"):
        transfer(source, target)

    assert snapshot(target) == before


def test_force_replaces_the_targets_rows(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    add_cluster(target, "CL-OTHER")  # only on the target: goes away
    add_cluster(target, "CL-PREM", name="stale copy")  # same key as a source row: replaced

    report = transfer(source, target, force=True)

    assert snapshot(target) == snapshot(source)
    assert [(t.table, t.rows) for t in report.emptied] == [("store_clusters", 2)]


def test_force_replaces_a_target_holding_re_forecasts(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    """A re-forecast references a forecast of the same table: the target's forecasts are
    deleted revisions first, so no guard or key objects to emptying the table."""
    source, target = open_engines(source_url), open_engines(migrated_url)
    every_table().write(target)
    with target.begin() as connection:
        connection.execute(
            update(Forecast).where(Forecast.forecast_id == "F-1").values(season="stale copy")
        )

    transfer(source, target, force=True)

    assert snapshot(target) == snapshot(source)


def test_unmigrated_target_is_refused_with_the_upgrade_command(
    source_url: URL, empty_database_url: URL, open_engines: Opener
) -> None:
    source = open_engines(source_url)
    if empty_database_url.get_backend_name() == "postgresql":
        empty_database_url = empty_database_url.set(password="s3cret-pw")  # trust auth ignores it
    target = open_engines(empty_database_url)
    with pytest.raises(TargetRevisionMismatch) as refused:
        transfer(source, target)
    message = str(refused.value)
    assert "has no schema (never migrated)" in message
    assert "ffdb upgrade --database-url" in message
    assert "s3cret-pw" not in message


def test_target_at_another_revision_is_refused(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    with target.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'abc123'"))
    with pytest.raises(TargetRevisionMismatch, match="is at revision abc123"):
        transfer(source, target)


def test_out_of_date_source_is_refused(
    tmp_path: Path, migrated_url: URL, open_engines: Opener
) -> None:
    source = open_engines(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    with pytest.raises(TransferError, match=r"the source database has no schema.*ffdb upgrade"):
        transfer(source, open_engines(migrated_url))


def test_same_database_is_refused(source_url: URL, open_engines: Opener) -> None:
    with pytest.raises(TransferError, match="same database"):
        transfer(open_engines(source_url), open_engines(source_url))


def add_target_only_rule(engine: Engine) -> None:
    """A rule only the target has, that the source's third store breaks: fails mid-way."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "ALTER TABLE stores ADD CONSTRAINT ck_stores_target_only "
                    "CHECK (store_size_sqft < 4003)"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER target_only BEFORE INSERT ON stores "
                    "WHEN NEW.store_size_sqft >= 4003 "
                    "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: "
                    "ck_stores_target_only'); END"
                )
            )


def test_a_constraint_failure_mid_way_leaves_the_target_unchanged(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    add_target_only_rule(target)
    add_cluster(target, "CL-KEEP")
    before = snapshot(target)

    with pytest.raises(TableCopyFailed) as failed:
        # categories, store_clusters, workflow_logs, ... are copied before stores fails
        transfer(source, target, force=True, batch_size=2)

    assert failed.value.table == "stores"
    assert isinstance(failed.value.__cause__, IntegrityError)
    assert str(failed.value).startswith(
        "copying stores failed: check constraint ck_stores_target_only violated"
    )
    assert snapshot(target) == before


def test_a_failed_copy_closes_its_source_cursor_before_the_source_connection(
    source_url: URL, migrated_url: URL, open_engines: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    add_target_only_rule(target)

    with pytest.raises(TableCopyFailed) as failed:
        transfer(source, target, force=True, batch_size=2)
    source.dispose()  # the source's connections close, as when the command exits
    del failed  # its traceback held the half-read batch generator
    gc.collect()

    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def corrupt_source(url: URL, statement: str) -> None:
    """What another client (the sqlite3 CLI) could write that our models never would."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_a_source_payload_of_the_wrong_shape_is_named_and_nothing_is_copied(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    corrupt_source(source_url, "UPDATE forecasts SET models_used = '[\"prophet\", 7]'")
    source, target = open_engines(source_url), open_engines(migrated_url)

    with pytest.raises(TableCopyFailed) as failed:
        transfer(source, target)

    assert failed.value.table == "forecasts"
    assert "copying forecasts failed: models_used[1]: Input should be a valid string" in str(
        failed.value
    )
    assert all(not rows for rows in snapshot(target).values())


# SQLite itself stores text in an INTEGER column: only a PostgreSQL target refuses it.
@pytest.mark.parametrize("backend_name", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_text_in_an_integer_column_is_refused_by_postgresql_with_its_place(
    source_url: URL, migrated_url: URL, open_engines: Opener
) -> None:
    assert migrated_url.get_backend_name() == "postgresql"
    # SQLite's CHECK (store_size_sqft > 0) holds for text: text sorts after numbers.
    corrupt_source(source_url, "UPDATE stores SET store_size_sqft = 'big' WHERE store_id = 'S02'")
    source, target = open_engines(source_url), open_engines(migrated_url)

    with pytest.raises(TableCopyFailed) as failed:
        transfer(source, target)

    message = str(failed.value)
    assert message.startswith("copying stores failed: invalid input syntax for type integer")
    assert "COPY stores, line 2, column store_size_sqft" in message
    assert all(not rows for rows in snapshot(target).values())


def test_an_interruption_after_the_first_table_leaves_the_target_unchanged(
    source_url: URL, migrated_url: URL, open_engines: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = open_engines(source_url), open_engines(migrated_url)
    add_cluster(target, "CL-KEEP")
    before = snapshot(target)
    real_batches = transfer_module._batches
    tables_read: list[str] = []

    def failing_batches(reader: Any, table: Any, batch_size: int) -> Any:
        tables_read.append(table.name)
        if len(tables_read) == 2:
            raise KeyboardInterrupt
        return real_batches(reader, table, batch_size)

    monkeypatch.setattr(transfer_module, "_batches", failing_batches)
    with pytest.raises(KeyboardInterrupt):
        transfer(source, target, force=True)

    assert tables_read == [t.name for t in tables_in_dependency_order()[:2]]
    assert snapshot(target) == before


# --- the command --------------------------------------------------------------------


def transfer_cli(capsys: pytest.CaptureFixture[str], source: URL, target: URL | str) -> Result:
    return run_ffdb(capsys, "transfer", "--database-url", source, "--to", target)


def test_command_prints_per_table_counts(
    source_url: URL, migrated_url: URL, capsys: pytest.CaptureFixture[str], open_engines: Opener
) -> None:
    total = sum(len(rows) for rows in snapshot(open_engines(source_url)).values())
    result = transfer_cli(capsys, source_url, migrated_url)

    assert (result.exit_code, result.stderr) == (0, "")
    counts = dict(line.split() for line in result.stdout.splitlines() if len(line.split()) == 2)
    assert counts["historical_sales"] == f"{3 * HISTORY_WEEKS}"
    assert counts["workflow_logs"] == "2"
    # The story's eleven tables and the three extensions (README, The schema).
    assert f"copied {total} rows in 14 tables" in result.stdout
    with open_engines(migrated_url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(Store)).scalar_one() == 3


def test_command_refuses_a_non_empty_target_in_one_line(
    source_url: URL, migrated_url: URL, capsys: pytest.CaptureFixture[str], open_engines: Opener
) -> None:
    add_cluster(open_engines(migrated_url), "CL-OTHER")
    result = transfer_cli(capsys, source_url, migrated_url)

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "store_clusters (1 row)" in result.stderr
    assert result.stderr.endswith(
        "pass --force to replace the target's rows; the target is unchanged\n"
    )


def test_command_refuses_a_sqlite_file_that_does_not_exist(
    source_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    result = transfer_cli(capsys, source_url, f"sqlite:///{missing}")

    assert result.exit_code == 1
    assert f"error: the target database {missing} does not exist" in result.stderr
    assert not missing.exists()  # not even an empty file left behind


@pytest.mark.parametrize(
    "target", ["postgresql://ffdb:s3cret-pw@host:port/db", "not a url s3cret-pw"]
)
def test_command_refuses_a_malformed_url_without_repeating_it(
    source_url: URL, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = transfer_cli(capsys, source_url, target)
    assert (result.exit_code, result.stderr) == (
        1,
        "error: the target URL is not a valid SQLAlchemy URL\n",
    )


def test_command_reports_an_unreachable_target_without_its_password(
    source_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = transfer_cli(capsys, source_url, "postgresql://ffdb:s3cret-pw@127.0.0.1:1/nowhere")

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: cannot reach the target postgresql+psycopg://ffdb:***@")
    assert "s3cret-pw" not in result.stderr
