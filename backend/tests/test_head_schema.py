"""The head-schema record: a database at head matches it, any other schema does not,
and ``ffdb check`` on a match loads neither Alembic nor the models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from backend.app.maintenance import head_schema
from backend.app.maintenance.schema_check import schema_problem
from backend.app.maintenance.schema_version import head_revision
from backend.app.models import tables_in_dependency_order
from backend.tests.support.backends import postgres_admin_url
from backend.tests.support.sql import execute_sql


def test_the_committed_record_is_current() -> None:
    """Made from today's models and migrations (library versions are not asked: an
    installation with others just runs every check in full)."""
    record = head_schema.read_record(head_schema.RECORD_PATH)
    stale = "stale: run `make docs` (writes backend/migrations/head_schema.json)"
    assert record is not None, stale
    assert (record.revision, record.sources) == (head_revision(), head_schema.sources_digest()), (
        stale
    )
    assert set(record.catalogues) == {"sqlite", "postgresql"}
    assert record.tables == tuple(table.name for table in tables_in_dependency_order())


@pytest.fixture
def record_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A record that applies here: the committed one, or (other library versions
    installed) one written for them, so the tests below test the mechanism."""
    if head_schema.current_record() is not None:
        yield head_schema.RECORD_PATH
        return
    path = tmp_path_factory.mktemp("record") / "head_schema.json"
    head_schema.write_record(postgres_admin_url(), path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(head_schema, "RECORD_PATH", path)
        head_schema.current_record.cache_clear()
        yield path
    head_schema.current_record.cache_clear()


def test_the_table_list_comes_from_the_record(record_path: Path) -> None:
    record = head_schema.read_record(record_path)
    assert record is not None
    assert head_schema.table_names() == list(record.tables)


def test_a_fresh_database_at_head_matches_the_record(engine: Engine, record_path: Path) -> None:
    with engine.connect() as connection:
        assert head_schema.matches_head(connection)
    assert schema_problem(engine) is None


CHANGES = {
    "a column added": "ALTER TABLE stores ADD COLUMN manager_name VARCHAR",
    "an index dropped": "DROP INDEX idx_historical_sales_date",
    "a table added": "CREATE TABLE notes (note_id INTEGER PRIMARY KEY)",
    "an index added": "CREATE INDEX ix_extra ON stores (store_name)",
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_to_the_schema_loses_the_match(
    engine: Engine, change: str, record_path: Path
) -> None:
    execute_sql(engine.url, change)
    with engine.connect() as connection:
        assert not head_schema.matches_head(connection)


def test_a_dropped_guard_trigger_loses_the_match_and_check_names_it(
    tmp_path: Path, record_path: Path
) -> None:
    url = _migrated_sqlite(tmp_path)
    execute_sql(url, "DROP TRIGGER ffdb_fk_stores_cluster_id_insert")
    from backend.app.database.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert not head_schema.matches_head(connection)
        problem = schema_problem(engine)
    finally:
        engine.dispose()
    assert problem is not None and "guard trigger(s) missing" in problem


@pytest.mark.parametrize(
    ("field", "value"),
    [("sources", "0" * 64), ("libraries", {"sqlalchemy": "2.0.0", "alembic": "1.13.0"})],
    ids=["other models or migrations", "other library versions"],
)
def test_a_record_made_elsewhere_sends_every_check_through_the_comparison(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_path: Path,
    field: str,
    value: object,
) -> None:
    stale = json.loads(record_path.read_text(encoding="utf-8"))
    stale[field] = value
    path = tmp_path / "head_schema.json"
    path.write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(head_schema, "RECORD_PATH", path)
    head_schema.current_record.cache_clear()
    try:
        assert head_schema.current_record() is None
        with engine.connect() as connection:
            assert not head_schema.matches_head(connection)
        # The comparison still answers, and the table list comes from the models.
        assert schema_problem(engine) is None
        assert head_schema.table_names() == [t.name for t in tables_in_dependency_order()]
    finally:
        monkeypatch.undo()
        head_schema.current_record.cache_clear()


def test_constraint_order_in_a_stored_create_table_does_not_matter() -> None:
    """Alembic's batch mode rebuilds a table listing its constraints in a different order
    from run to run; the columns' order is kept."""
    first = (
        "CREATE TABLE t (\n\ta VARCHAR NOT NULL, \n\tb INTEGER, \n"
        "\tCONSTRAINT ck_a CHECK (trim(a, char(9, 32)) = a), \n"
        "\tCONSTRAINT ck_b CHECK (b IN (1, 2)), \n\tCONSTRAINT pk_t PRIMARY KEY (a)\n)"
    )
    second = (
        "CREATE TABLE t (\n\ta VARCHAR NOT NULL, \n\tb INTEGER, \n"
        "\tCONSTRAINT pk_t PRIMARY KEY (a), \n\tCONSTRAINT ck_b CHECK (b IN (1, 2)), \n"
        "\tCONSTRAINT ck_a CHECK (trim(a, char(9, 32)) = a)\n)"
    )
    columns_swapped = first.replace(
        "a VARCHAR NOT NULL, \n\tb INTEGER", "b INTEGER, \n\ta VARCHAR NOT NULL"
    )
    quoted = "CREATE TABLE q (x TEXT DEFAULT 'a,(b', CONSTRAINT ck CHECK (x <> ')'))"
    assert head_schema._constraints_sorted(first) == head_schema._constraints_sorted(second)
    assert head_schema._constraints_sorted(first) != head_schema._constraints_sorted(
        columns_swapped
    )
    assert head_schema._constraints_sorted(quoted) == quoted


PROBE = """
import json, pathlib, sys
from backend.app.maintenance import head_schema
head_schema.RECORD_PATH = pathlib.Path(sys.argv[1])
from backend.app.cli.main import main
try:
    main(sys.argv[2:])
except SystemExit as exit:
    print("exit", exit.code, file=sys.stderr)
print(json.dumps(sorted(m for m in ("alembic", "backend.app.models") if m in sys.modules)),
      file=sys.stderr)
"""


def _check_loads(record: Path, url: URL) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(record), "check", "--database-url", str(url)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


def _migrated_sqlite(folder: Path) -> URL:
    from sqlalchemy.engine import make_url

    from backend.app.maintenance import migrate

    url = make_url(f"sqlite:///{folder / 'probe.db'}")
    migrate.upgrade(url, "head")
    return url


def test_check_at_head_loads_neither_alembic_nor_the_models(
    tmp_path: Path, record_path: Path
) -> None:
    url = _migrated_sqlite(tmp_path)
    loaded, output = _check_loads(record_path, url)
    assert loaded == [], output
    assert "exit 0" in output  # passed
    # The control, so the probe is known to see them: drift takes the full comparison.
    execute_sql(url, "ALTER TABLE stores ADD COLUMN manager_name VARCHAR")
    loaded, output = _check_loads(record_path, url)
    assert loaded == ["alembic", "backend.app.models"]
    assert "column stores.manager_name exists only in the database" in output
