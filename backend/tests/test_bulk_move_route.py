"""The bulk route of weekly imports stores exactly what the staged row-by-row route
stores, and a refused file leaves the database, its schema included, as it was.

The bulk route: a plain file read as Arrow columns; on SQLite staged through a scratch
file (``bulk_move.load_staging_file``), foreign keys proven by one query per key, CHECKs
proven on whole columns, secondary indexes dropped and rebuilt from their stored SQL
around the move (``bulk_move._indexes_rebuilt``). Its thresholds are set to 0 here, so
small files take every part of it; the reference is the same file with the Arrow path
and the rebuild switched off. On PostgreSQL the code shared with SQLite (the Arrow
reader, the ids, the weekday rule) is compared the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from backend.app.database.db import make_engine
from backend.app.ingest import columns
from backend.app.ingest.actuals import import_actuals
from backend.app.ingest.historical_sales import WEEKLY_COLUMNS, import_historical_sales
from backend.app.ingest.options import ImportOptions
from backend.app.ingest.problems import ImportRejected
from backend.app.maintenance import bulk_move
from backend.app.models.keys import KEY_EDGE_WHITESPACE, key_problem, key_rule_holds
from backend.tests.support.databases import HEAD, DatabaseCache
from backend.tests.support.exports import write_file
from backend.tests.support.foreign_keys import history_foreign_keys, table_held, watch_set_aside
from backend.tests.support.samples import import_parents
from backend.tests.support.snapshot import snapshot

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"
ACTUALS = "store_id,week_number,units_sold\n"
FORECAST = "F_BULK"
STORES, CATEGORIES = 6, 3
FIRST_MONDAY = date(2025, 1, 6)


def _history(weeks: range, *, units: int = 0, extra: str = "") -> str:
    lines = [
        f"{FIRST_MONDAY + timedelta(weeks=week)},S{store:03d},CAT{category},{units + week + store}"
        for week in weeks
        for store in range(STORES)
        for category in range(CATEGORIES)
    ]
    return WEEKLY + "".join(line + "\n" for line in lines) + extra


def _actuals(week: int, *, units: int = 0) -> str:
    return ACTUALS + "".join(f"S{store:03d},{week},{units + store}\n" for store in range(STORES))


def _parents(engine: Engine) -> None:
    rows = import_parents(stores=STORES, categories=CATEGORIES)
    rows.add("forecasts", forecast_id=FORECAST, category_id="CAT0", forecast_horizon_weeks=12)
    rows.write(engine)


def _schema(engine: Engine) -> list[tuple[Any, ...]]:
    """Every index and trigger with its stored definition (tables' too on SQLite)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        else:
            sql = (
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                "UNION ALL SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE NOT tgisinternal ORDER BY 1"
            )
        return [tuple(row) for row in connection.execute(text(sql))]


def _bulk(monkeypatch: pytest.MonkeyPatch, *, on: bool) -> None:
    """The bulk route for every file (on), or the staged row-by-row route (off)."""
    monkeypatch.setattr(columns, "ARROW_MIN_BYTES", 0 if on else 1 << 40)
    monkeypatch.setattr(bulk_move, "REBUILD_MIN_ROWS", 0 if on else 1 << 40)


def _run(
    database_cache: DatabaseCache,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    imports: list[tuple[str, str, bool]],
    *,
    on: bool,
) -> tuple[list[object], dict[str, list[dict[str, Any]]], list[tuple[Any, ...]], list[Any]]:
    """Run ``imports`` ((kind, file content, replace), ...) in order on a fresh database;
    (each outcome, the stored rows, the schema after, the schema before)."""
    outcomes: list[object] = []
    with database_cache.copy(HEAD, path / f"bulk-{on}.db") as url, monkeypatch.context() as patch:
        _bulk(patch, on=on)
        engine = make_engine(url)
        try:
            _parents(engine)
            schema_before = _schema(engine)
            for number, (kind, content, replace) in enumerate(imports):
                file = write_file(path / f"{kind}-{number}.csv", content)
                options = ImportOptions(replace=replace)
                try:
                    if kind == "history":
                        result = import_historical_sales(engine, file, options)
                    else:
                        result = import_actuals(engine, file, FORECAST, options)
                    outcome: object = {**asdict(result), "source": None}
                except ImportRejected as rejected:
                    outcome = rejected.lines()
                outcomes.append(outcome)
            stored = snapshot(engine, without=("created_at", "updated_at"))
            return outcomes, stored, _schema(engine), schema_before
        finally:
            engine.dispose()


CASES: dict[str, list[tuple[str, str, bool]]] = {
    "history into an empty table": [("history", _history(range(8)), False)],
    "history into a table holding other weeks": [
        ("history", _history(range(8)), False),
        ("history", _history(range(8, 12)), False),
    ],
    "history imported twice (the second a no-op)": [
        ("history", _history(range(6)), False),
        ("history", _history(range(6)), False),
    ],
    "history with changed values": [
        ("history", _history(range(6)), False),
        ("history", _history(range(3, 9), units=5), False),
    ],
    "history replaced": [
        ("history", _history(range(6)), False),
        ("history", _history(range(2, 4), units=9), True),
    ],
    "history with an unknown store (refused, nothing changed)": [
        ("history", _history(range(4)), False),
        ("history", _history(range(4, 8), extra="2025-03-03,S999,CAT0,5\n"), False),
    ],
    "history with a duplicate key (refused, nothing changed)": [
        ("history", _history(range(4), extra="2025-01-06,S000,CAT0,5\n"), False),
    ],
    "history on another weekday than the stored series (refused)": [
        ("history", _history(range(4)), False),
        ("history", WEEKLY + "2025-03-04,S000,CAT0,5\n", False),
    ],
    "actuals, then the same again (a no-op)": [
        ("actuals", _actuals(1), False),
        ("actuals", _actuals(1), False),
    ],
    "actuals with changed values (refused without --replace)": [
        ("actuals", _actuals(1), False),
        ("actuals", _actuals(1, units=3), False),
    ],
    "actuals replaced": [
        ("actuals", _actuals(1), False),
        ("actuals", _actuals(1, units=3), True),
        ("actuals", _actuals(2), False),
    ],
    "actuals with an unknown store (refused)": [
        ("actuals", _actuals(1) + "S999,1,4\n", False),
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_bulk_route_stores_what_the_staged_route_stores(
    case: str, database_cache: DatabaseCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imports = CASES[case]
    fast = _run(database_cache, tmp_path, monkeypatch, imports, on=True)
    slow = _run(database_cache, tmp_path, monkeypatch, imports, on=False)
    outcomes, stored, schema_after, schema_before = fast
    assert outcomes == slow[0]
    assert stored == slow[1]
    # Indexes and guard triggers dropped around the move are back, byte for byte, and
    # also after a refused file (rolled back with everything else).
    assert schema_after == schema_before
    if "refused" in case:
        assert isinstance(outcomes[-1], list)  # the problems, by line
    if "no-op" in case:
        last = outcomes[-1]
        assert isinstance(last, dict)
        assert last["inserted"] == last["updated"] == last["deleted"] == 0


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_a_sqlite_import_leaves_no_staging_file_and_its_connection_as_it_found_it(
    database_cache: DatabaseCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staging file is detached and deleted, and the pooled connection has its
    foreign keys on again, after a refused import as after a stored one."""
    _bulk(monkeypatch, on=True)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)
    with database_cache.copy(HEAD, tmp_path / "pool.db") as url:
        engine = make_engine(url)
        try:
            _parents(engine)
            import_historical_sales(engine, write_file(tmp_path / "a.csv", _history(range(4))))
            with pytest.raises(ImportRejected):
                import_historical_sales(
                    engine, write_file(tmp_path / "b.csv", _history(range(4, 6), extra="x,y\n"))
                )
            with pytest.raises(ImportRejected):
                import_historical_sales(
                    engine,
                    write_file(tmp_path / "c.csv", WEEKLY + "2025-03-03,S999,CAT0,1\n"),
                )
            with engine.connect() as connection:
                databases = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
                foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
                checks = connection.exec_driver_sql("PRAGMA ignore_check_constraints").scalar()
        finally:
            engine.dispose()
    assert databases == ["main"] or set(databases) <= {"main", "temp"}
    assert foreign_keys == 1
    assert checks == 0
    assert list((tmp_path / "scratch").iterdir()) == []


@pytest.mark.parametrize("backend_name", ["sqlite"])
def test_a_row_the_checks_refuse_is_still_refused_by_the_bulk_move(
    database_cache: DatabaseCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHECKs are skipped only when the caller proves every one the model declares: a
    proof that misses one leaves SQLite's own check on."""
    from sqlalchemy import Connection

    _bulk(monkeypatch, on=True)
    with database_cache.copy(HEAD, tmp_path / "checks.db") as url:
        engine = make_engine(url)
        try:
            _parents(engine)
            columns_ = WEEKLY_COLUMNS
            with engine.begin() as connection:
                assert isinstance(connection, Connection)
                bulk_move.create_staging(connection, "ffdb_stage_check", columns_)
                bulk_move.load_staging(
                    connection,
                    "ffdb_stage_check",
                    columns_,
                    [(2, "HS:S000:CAT0:2025-01-06", "2025-01-06", "S000", "CAT0", -1)],
                )
                proven = frozenset(
                    f"ck_historical_sales_{c}"
                    for c in ("sale_id_length", "store_id_length", "category_id_length")
                )
                with pytest.raises(Exception, match="CHECK constraint failed"):
                    bulk_move.upsert(
                        connection,
                        "ffdb_stage_check",
                        bulk_move.HISTORICAL_SALES_MOVE,
                        1,
                        checked=proven,
                    )
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "value",
    ["S1", "a b", "x" * 128, "x" * 129, "", " S1", "S1 ", "\u3000S", "S\x85", "S\u200b", "é"],
)
def test_the_key_rule_on_a_column_is_the_key_rule(value: str) -> None:
    import pyarrow as pa

    assert KEY_EDGE_WHITESPACE  # the set the CHECK and key_problem share
    assert key_rule_holds(pa.array([value, "S2"])) == (key_problem(value) is None)


def test_a_plain_import_does_not_load_pandas(database_cache: DatabaseCache, tmp_path: Path) -> None:
    """pyarrow loads pandas (~40 MB resident) on the first Python value it converts: the
    import path makes its arrays from numpy buffers and compute kernels instead, and on
    PostgreSQL sends values to the server as Arrow data, so a large import stays within
    its memory bound. Imported twice: the second finds its keys stored."""
    with database_cache.copy(HEAD, tmp_path / "pandas.db") as url:
        script = f"""
import sys
from backend.app.database.db import make_engine
from backend.app.ingest.historical_sales import import_historical_sales
from backend.tests.support.samples import import_parents
engine = make_engine({url.render_as_string(hide_password=False)!r})
import_parents(stores={STORES}, categories={CATEGORIES}).write(engine)
path = "{write_file(tmp_path / "p.csv", _history(range(4)))}"
first = import_historical_sales(engine, path).inserted
again = import_historical_sales(engine, path).unchanged
print(first, again, "pandas" in sys.modules)
"""
        environment = {**os.environ, "FFDB_ARROW_MIN_BYTES": "0"}
        out = subprocess.run(
            [sys.executable, "-c", script],
            check=True,
            capture_output=True,
            text=True,
            env=environment,
        ).stdout.split()
    rows = str(4 * STORES * CATEGORIES)
    assert out == [rows, rows, "False"]


@pytest.mark.parametrize("kind", ["history", "actuals"])
def test_a_dry_run_by_the_bulk_route_counts_and_leaves_the_database_as_it_was(
    kind: str, database_cache: DatabaseCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bulk(monkeypatch, on=True)
    content = _history(range(4)) if kind == "history" else _actuals(1)
    path = write_file(tmp_path / "dry.csv", content)
    with database_cache.copy(HEAD, tmp_path / "dry.db") as url:
        engine = make_engine(url)
        try:
            _parents(engine)
            before, schema = snapshot(engine), _schema(engine)
            counts = []
            for dry_run in (True, False):
                options = ImportOptions(dry_run=dry_run)
                if kind == "history":
                    result = import_historical_sales(engine, path, options)
                else:
                    result = import_actuals(engine, path, FORECAST, options)
                counts.append((result.inserted, result.updated))
                if dry_run:
                    assert snapshot(engine) == before
                    assert _schema(engine) == schema
        finally:
            engine.dispose()
    assert counts[0] == counts[1] == (len(content.splitlines()) - 1, 0)


@pytest.mark.parametrize("backend_name", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
@pytest.mark.parametrize("reader", [False, True], ids=["alone", "beside a reader"])
def test_a_large_move_into_an_empty_postgresql_table_sets_its_foreign_keys_aside(
    reader: bool, database_cache: DatabaseCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staged route's insert (here: a quoted field sends the file there) sets the
    keys aside as the COPY straight in does, and they come back as they were; a reader
    holding the table keeps them in place, the rows then checked one by one."""
    monkeypatch.setattr(bulk_move, "REBUILD_MIN_ROWS", 1)
    set_aside = watch_set_aside(monkeypatch, bulk_move)
    path = write_file(tmp_path / "quoted.csv", _history(range(2)).replace(",S000,", ',"S000",'))
    with database_cache.copy(HEAD, tmp_path / "keys.db") as url:
        engine = make_engine(url)
        try:
            _parents(engine)
            before = history_foreign_keys(engine)
            with table_held(engine, reader):
                inserted = import_historical_sales(engine, path).inserted
            after = history_foreign_keys(engine)
        finally:
            engine.dispose()
    assert inserted == 2 * STORES * CATEGORIES
    assert set_aside == [not reader]
    assert after == before and len(before) == 2 and all(row[2] for row in after)
