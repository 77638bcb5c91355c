"""Every string key holds 1 to 128 characters with no edge whitespace, on both backends
the same way (issue 12, 11).

The rule is a named CHECK per key column (models/keys.py, migration 0004), and the same
rule in Python (``key_problem``) for the importers and the write API. An upgrade over
rows that break it stops with the table, column, row and value, and changes nothing;
downgrade removes the checks (and puts 0003's length-only ones back). The importers
refuse a longer id as a FILE:LINE problem.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import CheckConstraint, String, column, insert, inspect, pool, select, table, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from backend.app.database.db import make_engine
from backend.app.ingest.fields import FieldError, identifier
from backend.app.maintenance import definitions
from backend.app.maintenance.schema_version import alembic_config
from backend.app.models import KEY_MAX_LENGTH, WorkflowLog, metadata
from backend.app.models.enums import WorkflowStatus
from backend.app.models.keys import KEY_EDGE_WHITESPACE, KeyRule, key_problem
from backend.tests.support.cli import run_ffdb
from backend.tests.support.databases import DatabaseCache
from backend.tests.support.exports import write_file
from backend.tests.support.rows import SampleRows
from backend.tests.support.samples import small_season
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import execute_sql, query_rows

BOUND = 128  # written out: the tests check the models' constant, not the other way round
KEY_MIGRATION = "0004"


def _log(log_id: str) -> dict[str, object]:
    return {
        "log_id": log_id,
        "workflow_id": "wf",
        "agent_name": "demand",
        "action": "forecast",
        "status": WorkflowStatus.COMPLETED,
    }


def _insert_log(url: URL, log_id: str) -> None:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(insert(WorkflowLog), [_log(log_id)])
    finally:
        engine.dispose()


def test_the_models_bound_every_string_key_column() -> None:
    assert KEY_MAX_LENGTH == definitions.KEY_MAX_LENGTH == BOUND
    expected = {
        f"ck_{table.name}_{column.name}_length"
        for table in metadata.tables.values()
        for column in table.columns
        if (column.primary_key or column.foreign_keys) and isinstance(column.type, String)
    }
    declared = {
        str(check.name)
        for table in metadata.tables.values()
        for check in table.constraints
        if isinstance(check, CheckConstraint)
        and str(check.name).endswith("_length")
        and "season_length" not in str(check.name)
    }
    assert expected <= declared  # other string columns may be bounded too (workflows.season)
    assert "ck_stores_store_id_length" in expected
    assert "ck_historical_sales_category_id_length" in expected


@pytest.mark.parametrize(
    ("length", "accepted"),
    [(0, False), (1, True), (BOUND, True), (BOUND + 1, False), (10_000, False)],
)
def test_both_backends_bound_a_key_the_same_way(
    migrated_url: URL, length: int, accepted: bool
) -> None:
    key = "k" * length
    if accepted:
        _insert_log(migrated_url, key)
        assert query_rows(migrated_url, "SELECT length(log_id) FROM workflow_logs") == [(length,)]
    else:
        with pytest.raises(IntegrityError, match="ck_workflow_logs_log_id_length"):
            _insert_log(migrated_url, key)


def test_the_upgrade_refuses_rows_that_break_the_bound_naming_them(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    command.upgrade(alembic_config(empty_database_url), "0002")
    long_id = "L" * 300
    _insert_log(empty_database_url, long_id)
    _insert_log(empty_database_url, "fine")
    before = snapshot(empty_database_url)

    result = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", empty_database_url)

    assert result.exit_code == 1, result.output
    assert "workflow_logs.log_id must hold 1 to 128 characters" in result.stderr
    assert f"log_id={long_id[:40]!r}...{long_id[-10:]!r} (300 characters)" in result.stderr
    assert "Traceback" not in result.stderr
    assert query_rows(empty_database_url, "SELECT version_num FROM alembic_version") == [("0002",)]
    assert snapshot(empty_database_url) == before

    # Following the advice: shorten the row, upgrade again.
    engine = make_engine(empty_database_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                WorkflowLog.__table__.update()
                .where(WorkflowLog.log_id == long_id)
                .values(log_id="short")
            )
    finally:
        engine.dispose()
    again = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", empty_database_url)
    assert again.exit_code == 0, again.output
    assert run_ffdb(capsys, "check", "--database-url", empty_database_url).exit_code == 0


def test_downgrade_removes_the_checks_and_upgrade_puts_them_back(
    migrated_url: URL,
    database_cache: DatabaseCache,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    small_season().write(migrated_url)
    before = snapshot(migrated_url)

    command.downgrade(alembic_config(migrated_url), "0003")

    # Every CHECK is as 0003 left it: 0003's own length-only key checks are back.
    with database_cache.empty(tmp_path / "at-0003.db") as at_0003:
        command.upgrade(alembic_config(at_0003), "0003")
        assert _check_texts(migrated_url) == _check_texts(at_0003)

    engine = make_engine(migrated_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            names = {
                check["name"]
                for table in inspect(connection).get_table_names()
                for check in inspect(connection).get_check_constraints(table)
            }
    finally:
        engine.dispose()
    assert "ck_stores_store_id_length" not in names
    assert "ck_workflow_logs_log_id_length" not in names
    assert "ck_workflows_workflow_id_length" in names  # 0003's own, kept
    _insert_log(migrated_url, "x" * (BOUND + 1))  # no bound at 0003
    assert (BOUND + 1,) in query_rows(migrated_url, "SELECT length(log_id) FROM workflow_logs")
    # Remove the long row again, then the upgrade re-adds every check and keeps the data.
    engine = make_engine(migrated_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                WorkflowLog.__table__.delete().where(WorkflowLog.log_id.like("xxx%"))
            )
    finally:
        engine.dispose()
    command.upgrade(alembic_config(migrated_url), "head")
    assert snapshot(migrated_url) == before
    assert run_ffdb(capsys, "check", "--database-url", migrated_url).exit_code == 0


def test_imports_refuse_a_longer_id_as_a_problem_line(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_id = "S" * (BOUND + 1)
    file = write_file(
        tmp_path / "stores.csv",
        "store_id,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,"
        "fashion_tier,store_format,region\n"
        f"{long_id},1,1,1,A,PREMIUM,MALL,NORTHEAST\n",
    )

    result = run_ffdb(capsys, "import", "stores", file, "--database-url", migrated_url)

    assert result.exit_code == 1, result.output
    assert f"{file}:2: store_id: {BOUND + 1} characters, an id has at most {BOUND}" in result.stderr
    assert query_rows(migrated_url, "SELECT count(*) FROM stores") == [(0,)]


# --- edge whitespace ------------------------------------------------------------------

# (key, accepted): every kind of edge whitespace is refused, at either end; whitespace
# inside a key and characters that only look blank (zero-width space, BOM) are kept.
EDGE_FORMS = [
    (" k", False),
    ("k ", False),
    ("\tk", False),
    ("k\t", False),
    ("\rk", False),
    ("k\n", False),
    ("\r\nk\r\n", False),
    ("\x0bk", False),
    ("k\x0c", False),
    ("\x1fk", False),
    ("\x85k", False),
    ("\u00a0k", False),
    ("k\u2028", False),
    ("k\u3000", False),
    (" ", False),
    ("k k", True),
    ("k\tk\r\nk", True),
    ("\u200bk", True),
    ("k\ufeff", True),
    ("e\u0301\U0001f642", True),
    ("\u05e9\u05dc\u05d5\u05dd", True),
    ("'=x", True),
]


def test_the_edge_set_is_what_str_strip_removes_and_the_importers_trim() -> None:
    every_space = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert every_space == KEY_EDGE_WHITESPACE
    for space in KEY_EDGE_WHITESPACE:
        assert identifier(f"{space}S 1{space}") == "S 1"
        assert key_problem(f"{space}S1") is not None
    # A spreadsheet escape that uncovers an edge tab is refused, not stored.
    with pytest.raises(FieldError, match="begins or ends with whitespace"):
        identifier("'\tS1")


def _insert_log_sql(url: URL, log_id: str) -> None:
    """workflow_logs row through plain SQL: no model, no Python rule in the way."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO workflow_logs (log_id, workflow_id, agent_name, action, status) "
                    "VALUES (:log_id, 'wf', 'demand', 'forecast', 'completed')"
                ),
                {"log_id": log_id},
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(("key", "accepted"), EDGE_FORMS, ids=repr)
def test_plain_sql_and_the_python_rule_agree_on_edge_whitespace(
    migrated_url: URL, key: str, accepted: bool
) -> None:
    assert (key_problem(key) is None) is accepted
    if accepted:
        _insert_log_sql(migrated_url, key)
        assert query_rows(migrated_url, "SELECT log_id FROM workflow_logs") == [(key,)]
    else:
        with pytest.raises(IntegrityError, match="ck_workflow_logs_log_id_length"):
            _insert_log_sql(migrated_url, key)
        assert query_rows(migrated_url, "SELECT count(*) FROM workflow_logs") == [(0,)]


def _check_texts(url: URL) -> dict[tuple[str, str], Any]:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                (table, str(check["name"])): check["sqltext"]
                for table in inspector.get_table_names()
                for check in inspector.get_check_constraints(table)
            }
    finally:
        engine.dispose()


def test_the_migrations_write_the_models_checks_character_for_character(
    migrated_url: URL, database_cache: DatabaseCache, tmp_path: Path
) -> None:
    """0004 freezes the rule's SQL; the database it leaves has the same CHECK text as
    one made from the models, on each backend."""
    with database_cache.empty(tmp_path / "from-models.db") as from_models:
        engine = make_engine(from_models, poolclass=pool.NullPool)
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        modelled = _check_texts(from_models)
    migrated = _check_texts(migrated_url)
    keys = {name for name in modelled if name[1].endswith("_length")}
    assert len(keys) > 30
    assert {name: migrated.get(name) for name in keys} == {name: modelled[name] for name in keys}


def test_the_upgrade_refuses_edge_whitespace_naming_table_column_row_and_value(
    empty_database_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    command.upgrade(alembic_config(empty_database_url), "0003")
    rows = SampleRows().add_valid("categories")
    unlinked = {"parameter_id": None, "forecast_id": None, "allocation_id": None}
    rows.add("workflows", workflow_id="W1", season="SS25\n", **unlinked)
    rows.add("workflows", workflow_id="W2", season="SS25", **unlinked)
    rows.write(empty_database_url)  # 0003 has head's columns; only the checks differ
    _insert_log(empty_database_url, " pad")
    before = snapshot(empty_database_url)

    result = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", empty_database_url)

    assert result.exit_code == 1, result.output
    assert "workflow_logs.log_id must hold 1 to 128 characters with no whitespace" in result.stderr
    assert "log_id=' pad' (4 characters)" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(empty_database_url) == before

    # The log fixed, the run's season (a column 0003 bounded by length only) is next.
    execute_sql(empty_database_url, "UPDATE workflow_logs SET log_id = 'pad'")
    again = run_ffdb(capsys, "upgrade", "--no-backup", "--database-url", empty_database_url)
    assert again.exit_code == 1, again.output
    assert "workflows.season must hold" in again.stderr
    assert "workflow_id='W1': season='SS25\\n' (5 characters)" in again.stderr
    assert "W2" not in again.stderr
    assert query_rows(empty_database_url, "SELECT version_num FROM alembic_version") == [("0003",)]


def test_the_check_and_the_python_rule_agree_at_the_edges_for_every_character(
    migrated_url: URL,
) -> None:
    """Every character of the Basic Multilingual Plane (and some beyond) at both edges of
    a key: the backend's CHECK expression and ``key_problem`` say the same, and exactly
    ``KEY_EDGE_WHITESPACE`` is refused."""
    codes = [*range(1, 0xD800), *range(0xE000, 0x10000), 0x1F642, 0xE0020, 0x10FFFD]
    values = [f"{chr(code)}k{chr(code)}" for code in codes]
    candidates = table("ffdb_candidates", column("v", String))
    engine = make_engine(migrated_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE ffdb_candidates (v VARCHAR)"))
            connection.execute(insert(candidates), [{"v": value} for value in values])
            rows = connection.execute(select(candidates.c.v, KeyRule("v")))
            passed = {str(row[0]): row[1] for row in rows}
    finally:
        engine.dispose()
    assert len(passed) == len(values)
    disagree = [v for v, ok in passed.items() if bool(ok) != (key_problem(v) is None)]
    assert disagree == []
    refused = sorted(value[0] for value, ok in passed.items() if not ok)
    assert "".join(refused) == KEY_EDGE_WHITESPACE
