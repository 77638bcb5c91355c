"""The story's verification commands, run as a user runs them: ``alembic`` from a working
directory (``cd backend && alembic upgrade head`` makes ``fashion_forecast.db`` there)
and the real ``sqlite3`` CLI against the file it made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend.app.maintenance.schema_version import ALEMBIC_INI, head_revision
from backend.tests.support.schema import EXTENSION_TABLES, STORY_INDEXES, STORY_TABLES

pytestmark = pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 CLI")

STORY_FK_TEST = (
    "INSERT INTO stores VALUES ('S99', 'Test Store', 'invalid_cluster', 5000, 'A', 50000,"
    " 'MALL', 'WEST', 1000.0, datetime('now'));"
)
DATABASE_FILE = "fashion_forecast.db"


def _alembic_command() -> list[str]:
    installed = Path(sys.executable).with_name("alembic")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "alembic"]


def alembic(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``alembic -c backend/alembic.ini ...`` in ``cwd``, with no DATABASE_URL set."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [*_alembic_command(), "-c", str(ALEMBIC_INI), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"alembic {' '.join(args)} failed:\n{result.stderr}"
    return result


def sqlite3_cli(cwd: Path, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sqlite3", DATABASE_FILE, sql],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def backend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory in which ``alembic upgrade head`` has been run."""
    cwd = tmp_path_factory.mktemp("backend")
    alembic(cwd, "upgrade", "head")
    assert (cwd / DATABASE_FILE).is_file()
    return cwd


def test_tables_lists_the_story_tables(backend_dir: Path) -> None:
    result = sqlite3_cli(backend_dir, ".tables")
    assert result.returncode == 0
    assert set(result.stdout.split()) == STORY_TABLES | EXTENSION_TABLES | {"alembic_version"}


def test_schema_stores_shows_its_columns_checks_key_and_guards(backend_dir: Path) -> None:
    schema = sqlite3_cli(backend_dir, ".schema stores").stdout
    assert "CREATE TABLE stores" in schema
    for check in ("location_tier", "store_format", "region", "store_size_sqft"):
        assert f"CONSTRAINT ck_stores_{check} CHECK" in schema
    assert "FOREIGN KEY(cluster_id) REFERENCES store_clusters (cluster_id)" in schema
    assert "CREATE INDEX ix_stores_cluster_id ON stores (cluster_id)" in schema
    assert "CREATE TRIGGER ffdb_fk_stores_cluster_id_insert" in schema


def test_schema_categories_shows_the_archetype_check(backend_dir: Path) -> None:
    schema = sqlite3_cli(backend_dir, ".schema categories").stdout
    assert "CONSTRAINT ck_categories_archetype CHECK (archetype IN ('FASHION_RETAIL', " in schema
    assert "DEFAULT 'FASHION_RETAIL'" in schema


def test_foreign_key_list_of_stores(backend_dir: Path) -> None:
    result = sqlite3_cli(backend_dir, "PRAGMA foreign_key_list(stores);")
    assert result.stdout.splitlines() == [
        "0|0|store_clusters|cluster_id|cluster_id|NO ACTION|NO ACTION|NONE"
    ]


def test_the_index_query_lists_the_story_indexes(backend_dir: Path) -> None:
    result = sqlite3_cli(backend_dir, "SELECT name FROM sqlite_master WHERE type='index';")
    assert set(result.stdout.split()) >= STORY_INDEXES


def test_the_story_fk_test_insert_fails_although_the_cli_has_the_pragma_off(
    backend_dir: Path,
) -> None:
    assert sqlite3_cli(backend_dir, "PRAGMA foreign_keys;").stdout.strip() == "0"
    result = sqlite3_cli(backend_dir, STORY_FK_TEST)
    assert result.returncode != 0
    assert "FOREIGN KEY constraint failed" in result.stderr
    count = sqlite3_cli(backend_dir, "SELECT count(*) FROM stores;").stdout.strip()
    assert count == "0"


def test_alembic_check_and_current(backend_dir: Path) -> None:
    checked = alembic(backend_dir, "check")
    assert "No new upgrade operations detected." in checked.stdout + checked.stderr
    current = alembic(backend_dir, "current")
    assert f"{head_revision()} (head)" in current.stdout


def test_downgrade_base_leaves_only_alembic_version_and_upgrade_restores(tmp_path: Path) -> None:
    alembic(tmp_path, "upgrade", "head")
    alembic(tmp_path, "downgrade", "base")
    assert sqlite3_cli(tmp_path, ".tables").stdout.split() == ["alembic_version"]
    leftovers = sqlite3_cli(
        tmp_path, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%';"
    )
    assert leftovers.stdout.split() == ["table|alembic_version"]
    alembic(tmp_path, "upgrade", "head")
    assert set(sqlite3_cli(tmp_path, ".tables").stdout.split()) == STORY_TABLES | (
        EXTENSION_TABLES | {"alembic_version"}
    )
    assert sqlite3_cli(tmp_path, STORY_FK_TEST).returncode != 0
