"""No command overwrites or deletes data it was not asked to (issue 12, items 1, 10, 14).

Outputs never land on the database, its journal or its backups; a failed export leaves
no half file; ``downgrade`` that would drop data asks for ``--yes`` and backs a SQLite
database up first; ``demo --replace`` deletes only a database of ours; and
``historical-sales --replace`` deletes only inside each (store, category) pair's own
first-to-last week.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from backend.app.database.db import normalize_url, sqlite_file
from backend.app.maintenance.backup import read_backup
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import write_file
from backend.tests.support.samples import import_parents, small_season
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import query_rows


def _sqlite_url(path: Path) -> URL:
    return normalize_url(f"sqlite:///{path}")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture
def sqlite_database(migrated_url: URL, backend_name: str) -> Path:
    if backend_name != "sqlite":
        pytest.skip("the database is a file only on SQLite")
    small_season().write(migrated_url)
    path = sqlite_file(migrated_url)
    assert path is not None
    return path


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "target",
    [
        "{db}",
        "{db}-wal",
        "{db}-shm",
        "{db}-journal",
        "./{db}",
        "sub/../{db}",
        "link-to-db",
        "{db}.backup-0002-20260101T000000000000Z",
        "other.sqlite",
    ],
)
def test_export_never_writes_over_the_database_its_journal_or_a_backup(
    sqlite_database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    os.symlink(sqlite_database.name, tmp_path / "link-to-db")
    with closing(sqlite3.connect(tmp_path / "other.sqlite")) as other:
        other.execute("CREATE TABLE kept (x)")
    backup = run_ffdb(capsys, "backup", "--database-url", _sqlite_url(sqlite_database))
    assert backup.exit_code == 0, backup.output
    name = target.format(db=sqlite_database.name)
    if name.startswith(sqlite_database.name + ".backup-"):
        name = next(p.name for p in tmp_path.iterdir() if ".backup-" in p.name)
    before_rows = snapshot(sqlite_database)
    before_files = _files(tmp_path)

    # A relative URL too: the guard compares resolved paths, not spellings.
    result = run_ffdb(
        capsys,
        "export",
        "stores",
        "-o",
        name,
        "--database-url",
        f"sqlite:///{sqlite_database.name}",
    )

    assert result.exit_code == 2, result.output
    assert "refusing to write" in result.stderr
    assert snapshot(sqlite_database) == before_rows
    after_files = _files(tmp_path)
    assert {k: v for k, v in after_files.items() if not k.endswith(("-wal", "-shm"))} == {
        k: v for k, v in before_files.items() if not k.endswith(("-wal", "-shm"))
    }
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
@pytest.mark.parametrize("command", ["erd", "schema-doc"])
def test_documents_are_never_written_over_the_default_database(
    sqlite_database: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(_sqlite_url(sqlite_database)))
    before = sqlite_database.read_bytes()

    result = run_ffdb(capsys, command, "--output", sqlite_database)

    assert result.exit_code == 2, result.output
    assert sqlite_database.read_bytes() == before


def test_a_failed_export_leaves_no_file_behind(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for args in (["no_such_table"], ["stores", "--forecast-id", "F1"], ["actual_sales"]):
        result = run_ffdb(
            capsys, "export", *args, "-o", out / "x.csv", "--database-url", migrated_url
        )
        assert result.exit_code != 0, result.output
    assert list(out.iterdir()) == []


def test_an_export_replaces_an_older_export_in_one_step(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_season().write(migrated_url)
    out = write_file(tmp_path / "stores.csv", "old,content\n")

    result = run_ffdb(capsys, "export", "stores", "-o", out, "--database-url", migrated_url)

    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("store_id,")
    assert sorted(
        p.name for p in tmp_path.iterdir() if p.suffix != ".db" and "-" not in p.name
    ) == ["stores.csv"]


# --- downgrade ---------------------------------------------------------------------------


def test_a_downgrade_that_drops_rows_needs_yes_and_changes_nothing_without_it(
    migrated_url: URL, capsys: pytest.CaptureFixture[str], backend_name: str
) -> None:
    small_season().write(migrated_url)
    stores = len(query_rows(migrated_url, "SELECT store_id FROM stores"))
    before = snapshot(migrated_url)

    refused = run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url)

    assert refused.exit_code == 2, refused.output
    assert f"stores ({stores:,})" in refused.stderr
    assert "--yes" in refused.stderr
    assert snapshot(migrated_url) == before
    path = sqlite_file(migrated_url)
    if path is not None:
        assert not [p for p in path.parent.iterdir() if ".backup-" in p.name]

    done = run_ffdb(capsys, "downgrade", "base", "--yes", "--database-url", migrated_url)

    assert done.exit_code == 0, done.output
    assert "is at base" in done.stdout
    if path is not None:
        backups = [p for p in path.parent.iterdir() if ".backup-" in p.name]
        assert len(backups) == 1
        assert f"Backed up {migrated_url} to {backups[0]}" in done.stdout
        assert snapshot(backups[0]) == before
        assert read_backup(backups[0])
    else:
        assert "Backed up" not in done.stdout


def test_a_downgrade_that_drops_no_rows_needs_no_confirmation(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(capsys, "downgrade", "base", "--database-url", migrated_url)

    assert result.exit_code == 0, result.output
    assert "is at base" in result.stdout


# --- demo --replace ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"precious notes, not a database\n", b"SQLite format 3\x00" + b"\x00" * 84],
    ids=["text-file", "damaged-sqlite"],
)
def test_demo_replace_never_deletes_a_file_that_is_not_a_database_of_ours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    target = write_file(tmp_path / "target.db", content)

    result = run_ffdb(capsys, "demo", "--replace", "--database-url", _sqlite_url(target))

    assert result.exit_code == 1, result.output
    assert "not replacing it" in result.stderr
    assert target.read_bytes() == content


def test_demo_replace_never_deletes_another_programs_sqlite_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "crm.db"
    with closing(sqlite3.connect(target)) as other:
        other.execute("CREATE TABLE customers (name TEXT)")
        other.execute("INSERT INTO customers VALUES ('kept')")
        other.commit()
    before = target.read_bytes()

    result = run_ffdb(capsys, "demo", "--replace", "--database-url", _sqlite_url(target))

    assert result.exit_code == 1, result.output
    assert "not a fashion-forecast database" in result.stderr
    assert target.read_bytes() == before


# --- historical-sales --replace ----------------------------------------------------------

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
CATEGORY = "CAT0"


def test_replace_deletes_only_within_each_pairs_own_weeks(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_parents(stores=2, categories=1).write(migrated_url)
    first, second = stores = ["S000", "S001"]
    weeks = ["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03"]
    stored = "".join(f"{w},{s},{CATEGORY},1\n" for w in weeks for s in stores)
    loaded = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        write_file(tmp_path / "all.csv", WEEKLY + stored),
        "--database-url",
        migrated_url,
    )
    assert loaded.exit_code == 0, loaded.output
    # Two rows: the first store's first week, the second store's last week. The file's
    # overall range spans all five weeks, but each pair covers a single week.
    two_rows = f"{weeks[0]},{first},{CATEGORY},5\n{weeks[-1]},{second},{CATEGORY},6\n"

    result = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        write_file(tmp_path / "two.csv", WEEKLY + two_rows),
        "--replace",
        "--database-url",
        migrated_url,
    )

    assert result.exit_code == 0, result.output
    assert "replaced rows deleted" not in result.stdout
    rows = query_rows(
        migrated_url,
        "SELECT store_id, week_start_date, units_sold FROM historical_sales "
        f"WHERE category_id = '{CATEGORY}'",
    )
    assert len(rows) == 2 * len(weeks)
    units = {(str(store), str(week)[:10]): units for store, week, units in rows}
    assert units[(first, weeks[0])] == 5
    assert units[(second, weeks[-1])] == 6


def test_a_failed_backup_leaves_no_partial_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = b"SQLite format 3\x00" + b"\xff" * 4080
    damaged = write_file(tmp_path / "damaged.db", content)

    result = run_ffdb(capsys, "backup", "--database-url", _sqlite_url(damaged))

    assert result.exit_code == 1, result.output
    assert "could not back up" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.db"]
    assert damaged.read_bytes() == content
