"""Foreign keys hold for every client: our engine on both backends, and on SQLite also
a plain ``sqlite3`` connection with the pragma off and the ``sqlite3`` CLI; the guard
triggers are complete, checked, and survive later migrations that rebuild tables.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError

from backend.app.database.db import make_engine
from backend.app.maintenance import integrity
from backend.app.maintenance.schema_version import MIGRATIONS_DIR, alembic_config, head_revision
from backend.app.models import metadata
from backend.tests.support.rows import SampleRows, insert_row, valid_row
from backend.tests.support.schema import fk_columns, foreign_keys, primary_key
from backend.tests.support.snapshot import snapshot

SQLITE3_CLI = shutil.which("sqlite3")
needs_cli = pytest.mark.skipif(SQLITE3_CLI is None, reason="the sqlite3 CLI is not installed")
GUARD_KINDS = ("insert", "update", "parent_delete", "parent_update")


@dataclass(frozen=True)
class Key:
    """One declared foreign key, with the valid rows that exercise it."""

    name: str
    child: str
    column: str
    parent: str
    parent_column: str

    @property
    def child_pk(self) -> str:
        return primary_key(self.child)

    def describe(self) -> str:
        return f"{self.child}.{self.column} -> {self.parent}.{self.parent_column}"

    def bypass_statements(self) -> dict[str, str]:
        """Plain SQL a client without the pragma could run; each must be refused.

        The orphan row is the child's valid row copied with a new key and a parent
        that does not exist, so only the foreign key can object to it.
        """
        c, col, p, pcol, pk = (
            self.child,
            self.column,
            self.parent,
            self.parent_column,
            self.child_pk,
        )
        return {
            "orphan insert": (
                f"CREATE TEMP TABLE orphan AS SELECT * FROM {c};"
                f" UPDATE orphan SET {pk} = {pk} || '-orphan', {col} = 'no-such-parent';"
                f" INSERT INTO {c} SELECT * FROM orphan;"
            ),
            "child update": f"UPDATE {c} SET {col} = 'no-such-parent';",
            "parent delete": f"DELETE FROM {p};",
            "parent key update": f"UPDATE {p} SET {pcol} = {pcol} || '-renamed';",
        }


ALL_KEYS = [Key(str(fk.name), *fk_columns(fk)) for fk in foreign_keys()]
# A table's valid row refers to the valid rows of its parents; a key from a table to
# itself (a revision of a forecast) has its own tests below.
KEYS = [key for key in ALL_KEYS if key.child != key.parent]
SELF_KEYS = [key for key in ALL_KEYS if key.child == key.parent]
BYPASSES = ["orphan insert", "child update", "parent delete", "parent key update"]


def test_the_schema_declares_the_expected_foreign_keys() -> None:
    assert {(k.child, k.column, k.parent) for k in ALL_KEYS} == {
        ("stores", "cluster_id", "store_clusters"),
        ("forecasts", "category_id", "categories"),
        ("season_parameters", "category_id", "categories"),
        ("forecast_cluster_distribution", "forecast_id", "forecasts"),
        ("forecast_cluster_distribution", "cluster_id", "store_clusters"),
        ("allocations", "forecast_id", "forecasts"),
        ("markdowns", "forecast_id", "forecasts"),
        ("historical_sales", "store_id", "stores"),
        ("historical_sales", "category_id", "categories"),
        ("actual_sales", "store_id", "stores"),
        ("actual_sales", "forecast_id", "forecasts"),
        # Extension beyond the story: retailer store columns `stores` has no place for.
        ("store_extra_attributes", "store_id", "stores"),
        # The orchestrator's records (revision 0003).
        ("forecasts", "revises_forecast_id", "forecasts"),
        ("workflows", "category_id", "categories"),
        ("workflows", "parameter_id", "season_parameters"),
        ("workflows", "forecast_id", "forecasts"),
        ("workflows", "allocation_id", "allocations"),
        ("markdown_status_changes", "markdown_id", "markdowns"),
    }


# --- through our engine, on both backends ------------------------------------------------


def rows_through(key: Key) -> SampleRows:
    """The child's valid row and its parents, with the child's other optional keys NULL,
    so that the key's parent row is referenced by this one child row only."""
    child = metadata.tables[key.child]
    cleared = {
        fk.parent.name: None
        for fk in child.foreign_keys
        if fk.parent.name != key.column and fk.parent.nullable
    }
    needed = {
        fk.column.table.name
        for fk in child.foreign_keys
        if fk.parent.name not in cleared and fk.column.table is not child
    }
    rows = SampleRows().add_valid(*needed)
    rows.add(key.child, **cleared)
    return rows


def _refusal(engine: Engine, key: Key, setup: SampleRows, statement: sa.Executable) -> str:
    """The error the database raises for ``statement`` after seeding ``setup``."""
    with engine.connect() as connection:
        setup.write(connection)
        with pytest.raises(IntegrityError) as refused:
            connection.execute(statement)
        connection.rollback()
    return str(refused.value)


def _names_the_key(engine: Engine, key: Key, message: str) -> None:
    if engine.dialect.name == "postgresql":
        assert f'foreign key constraint "{key.name}"' in message, message
    else:
        assert f"FOREIGN KEY constraint failed: {key.describe()}" in message, message


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.name)
def test_engine_refuses_an_orphan_insert(shared_engine: Engine, key: Key) -> None:
    orphan = valid_row(key.child, **{key.column: "no-such-parent"})
    child = metadata.tables[key.child]
    parents = tuple(
        fk.column.table.name for fk in child.foreign_keys if fk.column.table is not child
    )
    with shared_engine.connect() as connection:
        SampleRows().add_valid(*parents).write(connection)
        with pytest.raises(IntegrityError) as refused:
            insert_row(connection, key.child, orphan)
        connection.rollback()
    _names_the_key(shared_engine, key, str(refused.value))


def _changes(key: Key) -> dict[str, sa.Executable]:
    """Statements that would break ``key`` once its child row exists."""
    parent, child = metadata.tables[key.parent], metadata.tables[key.child]
    return {
        "parent delete": sa.delete(parent),
        "parent key update": sa.update(parent).values({key.parent_column: "renamed"}),
        "child update": sa.update(child).values({key.column: "no-such-parent"}),
    }


@pytest.mark.parametrize("change", ["parent delete", "parent key update", "child update"])
@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.name)
def test_engine_refuses_breaking_an_existing_reference(
    shared_engine: Engine, key: Key, change: str
) -> None:
    message = _refusal(shared_engine, key, rows_through(key), _changes(key)[change])
    _names_the_key(shared_engine, key, message)


def _with_revision(connection: sa.Connection) -> None:
    """Forecast F1 and F2, a revision of F1 from week 7."""
    rows = SampleRows().add_valid("forecasts")
    rows.add("forecasts", forecast_id="F2", revises_forecast_id="F1", from_week=7, peak_week=7)
    rows.write(connection)


SELF_CHANGES = {
    "orphan insert": lambda table: sa.insert(table).values(
        {
            **valid_row("forecasts"),
            "forecast_id": "F3",
            "revises_forecast_id": "NOPE",
            "from_week": 2,
        }
    ),
    "parent delete": lambda table: sa.delete(table).where(table.c.forecast_id == "F1"),
    "parent key update": lambda table: (
        sa.update(table).where(table.c.forecast_id == "F1").values(forecast_id="F1-renamed")
    ),
    "child update": lambda table: (
        sa.update(table).where(table.c.forecast_id == "F2").values(revises_forecast_id="NOPE")
    ),
}


@pytest.mark.parametrize("change", sorted(SELF_CHANGES))
@pytest.mark.parametrize("key", SELF_KEYS, ids=lambda k: k.name)
def test_a_revision_keeps_the_forecast_it_revises(
    shared_engine: Engine, key: Key, change: str
) -> None:
    table = metadata.tables[key.child]
    with shared_engine.connect() as connection:
        _with_revision(connection)
        with pytest.raises(IntegrityError) as refused:
            connection.execute(SELF_CHANGES[change](table))
        connection.rollback()
    _names_the_key(shared_engine, key, str(refused.value))


@pytest.mark.parametrize("key", SELF_KEYS, ids=lambda k: k.name)
@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_plain_sqlite3_cannot_orphan_a_revision(migrated_url: URL, key: Key) -> None:
    engine = make_engine(migrated_url)
    with engine.begin() as connection:
        _with_revision(connection)
    engine.dispose()
    assert migrated_url.database is not None
    path = Path(migrated_url.database)
    before = snapshot(path)
    for statement in (
        "DELETE FROM forecasts WHERE forecast_id = 'F1';",
        "UPDATE forecasts SET forecast_id = 'F1-renamed' WHERE forecast_id = 'F1';",
        "UPDATE forecasts SET revises_forecast_id = 'NOPE' WHERE forecast_id = 'F2';",
    ):
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys=OFF")
            with pytest.raises(sqlite3.IntegrityError) as refused:
                connection.executescript(statement)
        finally:
            connection.close()
        assert f"FOREIGN KEY constraint failed: {key.describe()}" in str(refused.value)
    assert snapshot(path) == before


def test_a_parent_without_children_can_go(shared_engine: Engine) -> None:
    with shared_engine.connect() as connection:
        SampleRows().add_valid("stores").write(connection)
        deleted = connection.execute(sa.delete(metadata.tables["stores"]))
        assert deleted.rowcount == 1
        connection.execute(sa.delete(metadata.tables["store_clusters"]))
        connection.rollback()


def test_a_null_optional_key_refers_to_nothing(shared_engine: Engine) -> None:
    """season_parameters.category_id may be NULL: such a row needs and holds no parent."""
    with shared_engine.connect() as connection:
        SampleRows().add_valid("categories").write(connection)
        insert_row(
            connection, "season_parameters", valid_row("season_parameters", category_id=None)
        )
        connection.execute(sa.delete(metadata.tables["categories"]))
        connection.rollback()


@needs_cli
@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_the_cli_accepts_a_null_optional_key(migrated_url: URL) -> None:
    path = _sqlite_holding(migrated_url, "categories")
    parameters = (
        "INSERT INTO season_parameters (parameter_id, category_id, forecast_horizon_weeks,"
        " season_start_date, season_end_date, replenishment_strategy, dc_holdback_percentage)"
        " VALUES ('P9', NULL, 12, '2025-03-01', '2025-05-23', 'none', 0.0);"
    )
    assert _cli(path, parameters).returncode == 0
    assert _cli(path, "DELETE FROM categories;").returncode == 0


# --- SQLite clients that never turned the pragma on --------------------------------------


def _sqlite_holding(url: URL, *tables: str) -> Path:
    """The SQLite file at ``url`` with the valid rows of ``tables`` and their parents."""
    SampleRows().add_valid(*tables).write(url)
    assert url.database is not None
    return Path(url.database)


@pytest.fixture
def populated_sqlite(tmp_path: Path) -> Path:
    """A SQLite file migrated by alembic, holding one valid row in every table."""
    path = tmp_path / "populated.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "head")
    return _sqlite_holding(make_url(f"sqlite:///{path}"), *metadata.tables)


@pytest.mark.parametrize("bypass", BYPASSES)
@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.name)
@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_plain_sqlite3_with_the_pragma_off_is_refused(
    migrated_url: URL, key: Key, bypass: str
) -> None:
    # Only the key's own child row refers to the parent, so the refusal is this key's.
    rows_through(key).write(migrated_url)
    assert migrated_url.database is not None
    path = Path(migrated_url.database)
    before = snapshot(path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys=OFF")
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (0,)
        with pytest.raises(sqlite3.IntegrityError) as refused:
            connection.executescript(key.bypass_statements()[bypass])
    finally:
        connection.close()
    assert f"FOREIGN KEY constraint failed: {key.describe()}" in str(refused.value)
    assert snapshot(path) == before


def _cli(path: Path, sql: str) -> subprocess.CompletedProcess[str]:
    assert SQLITE3_CLI is not None
    return subprocess.run(
        [SQLITE3_CLI, str(path), sql], capture_output=True, text=True, timeout=60, check=False
    )


@needs_cli
@pytest.mark.parametrize("bypass", BYPASSES)
@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.name)
@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_the_sqlite3_cli_is_refused(migrated_url: URL, key: Key, bypass: str) -> None:
    rows_through(key).write(migrated_url)
    assert migrated_url.database is not None
    path = Path(migrated_url.database)
    before = snapshot(path)
    result = _cli(path, "PRAGMA foreign_keys=OFF; " + key.bypass_statements()[bypass])
    assert result.returncode != 0
    assert f"FOREIGN KEY constraint failed: {key.describe()}" in result.stderr
    assert snapshot(path) == before


# --- the guard triggers themselves ---------------------------------------------------------


def _expected_trigger_names() -> set[str]:
    return {
        f"{integrity.GUARD_PREFIX}{key.child}_{key.column}_{kind}"
        for key in ALL_KEYS
        for kind in GUARD_KINDS
    }


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return {name for (name,) in rows}


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_four_guards_per_declared_foreign_key_and_nothing_else(engine: Engine) -> None:
    assert _triggers(engine) == _expected_trigger_names()
    assert len(_expected_trigger_names()) == 4 * len(ALL_KEYS)
    with engine.connect() as connection:
        assert integrity.missing_guards(connection) == []
        assert integrity.stray_guards(connection) == []


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_missing_guards_reports_a_dropped_trigger(engine: Engine) -> None:
    dropped = f"{integrity.GUARD_PREFIX}stores_cluster_id_insert"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TRIGGER {dropped}")
    with engine.connect() as connection:
        assert integrity.missing_guards(connection) == [dropped]


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_missing_guards_reports_a_stale_trigger_and_install_repairs_it(engine: Engine) -> None:
    stale = f"{integrity.GUARD_PREFIX}actual_sales_forecast_id_parent_delete"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TRIGGER {stale}")
        # Same name, but it guards nothing any more.
        connection.exec_driver_sql(
            f"CREATE TRIGGER {stale} BEFORE DELETE ON forecasts FOR EACH ROW WHEN 0 "
            "BEGIN SELECT RAISE(ABORT, 'never'); END"
        )
        connection.exec_driver_sql(
            f"CREATE TRIGGER {integrity.GUARD_PREFIX}gone_column_insert BEFORE INSERT ON stores "
            "FOR EACH ROW WHEN 0 BEGIN SELECT 1; END"
        )
    with engine.connect() as connection:
        assert integrity.missing_guards(connection) == [stale]
        assert integrity.stray_guards(connection) == [f"{integrity.GUARD_PREFIX}gone_column_insert"]
    with engine.begin() as connection:
        assert integrity.install_guards(connection) == 4 * len(ALL_KEYS)
    with engine.connect() as connection:
        assert integrity.missing_guards(connection) == []
        assert integrity.stray_guards(connection) == []


def test_guards_are_sqlite_only(shared_engine: Engine) -> None:
    with shared_engine.connect() as connection:
        if shared_engine.dialect.name == "sqlite":
            assert integrity.present_guards(connection) == _expected_trigger_names()
        else:  # PostgreSQL enforces foreign keys for every client itself.
            assert integrity.install_guards(connection) == 0
        assert integrity.missing_guards(connection) == []


# --- guards survive a later migration that rebuilds tables ------------------------------

FUTURE_REVISION = '''"""A later migration that rebuilds a parent and a child table."""

import sqlalchemy as sa
from alembic import op

revision = "future01"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores", recreate="always") as batch:
        batch.add_column(sa.Column("future_note", sa.String(), nullable=True))
    with op.batch_alter_table("store_clusters", recreate="always") as batch:
        batch.add_column(sa.Column("future_flag", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("store_clusters", recreate="always") as batch:
        batch.drop_column("future_flag")
    with op.batch_alter_table("stores", recreate="always") as batch:
        batch.drop_column("future_note")
'''


def _future_config(url: str, tmp_path: Path) -> Config:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "future01_rebuild.py").write_text(
        FUTURE_REVISION.format(head=head_revision())
    )
    config = alembic_config(url)
    config.set_main_option("script_location", str(scripts))
    return config


def test_guards_survive_a_migration_that_rebuilds_tables(
    populated_sqlite: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{populated_sqlite}"
    before = snapshot(populated_sqlite)
    config = _future_config(url, tmp_path)
    command.upgrade(config, "head")

    engine = make_engine(url)
    try:
        assert _triggers(engine) == _expected_trigger_names()
        with engine.connect() as connection:
            assert integrity.missing_guards(connection) == []
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            columns = [c["name"] for c in sa.inspect(connection).get_columns("stores")]
            assert columns[-1] == "future_note"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    after = snapshot(populated_sqlite)
    # The rebuilt tables gained a NULL column; every other value is as it was.
    gained = {"stores": "future_note", "store_clusters": "future_flag"}
    for table, column in gained.items():
        assert [row.pop(column) for row in after[table]] == [None] * len(before[table])
    assert {t: after[t] for t in gained} == {t: before[t] for t in gained}
    assert {t: v for t, v in after.items() if t not in ("stores", "store_clusters")} == {
        t: v for t, v in before.items() if t not in ("stores", "store_clusters")
    }
    if SQLITE3_CLI is not None:
        story_insert = (
            "INSERT INTO stores VALUES ('S99', 'Test Store', 'invalid_cluster', 5000, 'A',"
            " 50000, 'MALL', 'WEST', 1000.0, datetime('now'), NULL);"
        )
        refused = _cli(populated_sqlite, story_insert)
        assert refused.returncode != 0
        assert "FOREIGN KEY constraint failed" in refused.stderr
        assert _cli(populated_sqlite, "DELETE FROM store_clusters;").returncode != 0
    command.downgrade(config, "-1")
    assert snapshot(populated_sqlite) == before


def _offline_sql(url: str, *args: str, downgrade: bool = False) -> str:
    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    (command.downgrade if downgrade else command.upgrade)(config, *args, sql=True)
    return config.output_buffer.getvalue()


def test_offline_sql_creates_and_removes_the_guards(tmp_path: Path) -> None:
    path = tmp_path / "offline.db"
    url = f"sqlite:///{path}"
    with sqlite3.connect(path) as raw:
        raw.executescript(_offline_sql(url, "head"))
    engine = make_engine(url)
    try:
        assert _triggers(engine) == _expected_trigger_names()
        with engine.connect() as connection:
            assert integrity.missing_guards(connection) == []
    finally:
        engine.dispose()
    with sqlite3.connect(path) as raw, pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        raw.execute(
            "INSERT INTO stores VALUES ('S99', 'Test Store', 'invalid_cluster', 5000, 'A',"
            " 50000, 'MALL', 'WEST', 1000.0, datetime('now'))"
        )
    with sqlite3.connect(path) as raw:
        raw.executescript(_offline_sql(url, "head:base", downgrade=True))
        left = raw.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        assert left.fetchall() == [("table", "alembic_version")]


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_guards_from_the_models_equal_guards_from_the_database(engine: Engine) -> None:
    """Offline SQL builds guards from the models; online from the database: same SQL."""
    with engine.connect() as connection:
        from_models = integrity.guards_for(
            integrity.metadata_foreign_keys(metadata), connection.dialect
        )
        assert from_models == integrity.expected_guards(connection)


def test_a_migration_refuses_a_connection_already_in_a_transaction(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))  # begins a transaction
            with pytest.raises(RuntimeError, match="pass a connection that has not begun one"):
                command.upgrade(alembic_config(connection=connection), "head")
    finally:
        engine.dispose()


def test_a_migration_on_an_injected_connection_restores_its_pragma(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'injected.db'}")
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
            connection.commit()
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert integrity.missing_guards(connection) == []
    finally:
        engine.dispose()
