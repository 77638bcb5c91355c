"""``ffdb import`` against the databases' own loaders, and its peak memory.

All in one run, on identical fresh databases, each case into an empty table and into
one already holding as many other rows:

- SQLite, weekly history and weekly actuals: the ``sqlite3`` CLI's ``.import`` into a
  TEMP table, then ``INSERT ... SELECT`` into the table (target: ffdb >= 2.5x faster);
- PostgreSQL, weekly history: ``psql``'s ``\\copy historical_sales FROM file csv``
  straight into the table, from a file that already holds the ids (target: >= 1.0x);
- peak resident memory of ``ffdb import historical-sales`` on a much larger file, on
  SQLite and PostgreSQL (target < 200 MB), measured by a parent process with ``getrusage``.

For actuals a "floor" line follows each ratio: SQLite's own ``INSERT`` of the same rows
(ids made, sorted by the primary key, no per-row checks or guard triggers), plus its
``COMMIT``, timed on another copy of the same database with the import's page cache,
and the share of the 2.5x budget (baseline / 2.5) it takes. It is evidence of how much
of that budget any importer has left for starting, reading and checking the file, not a
ratio with a target.

SQLite cases run three times, interleaved, and report medians (``FFDB_BENCH_SQLITE_REPEATS``).
Sizes: 1,000,000 rows and 10,000,000 for memory (``BENCH_QUICK=1``: 100,000 and
1,000,000), or ``FFDB_BENCH_ROWS`` / ``FFDB_BENCH_MEMORY_ROWS``. A baseline whose tool
(``sqlite3``, ``psql``) or server is missing is skipped with a message.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from support import (
    FFDB,
    HISTORY_STORES,
    actuals_file,
    actuals_stores,
    copy_sqlite,
    history_file,
    load,
    median_of,
    postgres_admin_url,
    ratio_line,
    run,
    seed,
    size,
    verdict,
)

from backend.app.database.db import make_engine
from backend.app.ingest.transaction import IMPORT_CACHE_KIB
from backend.app.maintenance.definitions import actual_sales_id

SQLITE_TARGET, POSTGRES_TARGET, MEMORY_LIMIT_MB = 2.5, 1.0, 200
# SQLite runs per case, medians reported (one run each in quick mode).
SQLITE_REPEATS = size(3, 1, "FFDB_BENCH_SQLITE_REPEATS")
MISSED: list[str] = []  # the measurements that missed their target: the exit status


def report(line: str) -> None:
    print(line, flush=True)
    if "MISSES" in line:
        MISSED.append(line.split(":", 1)[0])


STAGE = {
    "historical-sales": "CREATE TEMP TABLE stage (week_start_date TEXT, store_id TEXT, "
    "category_id TEXT, units_sold INTEGER);",
    "actuals": "CREATE TEMP TABLE stage (store_id TEXT, week_number INTEGER, units_sold INTEGER);",
}
MOVE = {
    "historical-sales": "INSERT INTO historical_sales (sale_id, store_id, category_id, "
    "week_start_date, units_sold) SELECT 'HS:' || store_id || ':' || category_id || ':' || "
    "week_start_date, store_id, category_id, week_start_date, units_sold FROM stage;",
    "actuals": "INSERT INTO actual_sales (actual_id, forecast_id, store_id, week_number, "
    "units_sold) SELECT 'AS:F1:' || store_id || ':' || week_number, 'F1', store_id, "
    "week_number, units_sold FROM stage;",
}


def ffdb_import(kind: str, path: Path, url: str) -> list[str]:
    extra = ["--forecast-id", "F1"] if kind == "actuals" else []
    return [FFDB, "import", kind, str(path), "--database-url", url, *extra]


def load_other_rows(kind: str, url: str, work: Path, rows: int) -> None:
    """Fill the table with ``rows`` rows the measured file does not touch (not timed)."""
    if kind == "historical-sales":
        weeks = -(-rows // (HISTORY_STORES * 50))
        other = history_file(work / "other-history.csv", rows, first_week=weeks + 1)
        subprocess.run(ffdb_import(kind, other, url), check=True, stdout=subprocess.DEVNULL)
    else:
        other = actuals_file(work / "other-actuals.csv", rows)
        subprocess.run(
            [*ffdb_import(kind, other, url)[:-1], "F2"], check=True, stdout=subprocess.DEVNULL
        )


def bench_sqlite(work: Path, rows: int, files: dict[str, Path]) -> None:
    if shutil.which("sqlite3") is None:
        print("SQLite: skipped, the sqlite3 command-line tool is not installed")
        return
    stores = max(HISTORY_STORES, actuals_stores(rows))
    template = work / "template.db"
    seed(f"sqlite:///{template}", stores)
    for kind, path in files.items():
        for filled in (False, True):
            start = template
            if filled:
                start = copy_sqlite(template, work / f"filled-{kind}.db")
                load_other_rows(kind, f"sqlite:///{start}", work, rows)
            script = "\n".join(
                [STAGE[kind], ".mode csv", f".import --skip 1 {path} stage", MOVE[kind]]
            )
            table = "historical_sales" if kind == "historical-sales" else "actual_sales"
            baselines, ours_runs, floors = [], [], []
            for _ in range(SQLITE_REPEATS):  # interleaved: the machine's drift hits both
                baseline_db = copy_sqlite(start, work / "baseline.db")
                ours_db = copy_sqlite(start, work / "ours.db")
                # Each timed run starts with no dirty pages of the copies made just before:
                # the kernel would write them back during whichever run commits first.
                os.sync()
                baselines.append(run(["sqlite3", str(baseline_db)], input=script.encode()))
                os.sync()
                ours_runs.append(run(ffdb_import(kind, path, f"sqlite:///{ours_db}")))
                assert count(f"sqlite:///{baseline_db}", table) == count(
                    f"sqlite:///{ours_db}", table
                )
                if kind == "actuals":
                    floor_db = copy_sqlite(start, work / "floor.db")
                    os.sync()
                    floors.append(actuals_floor(floor_db, path))
            baseline, ours = median_of(baselines), median_of(ours_runs)
            where = f"into a table holding {rows:,} other rows" if filled else "into an empty table"
            name = f"SQLite {kind} {where} (vs sqlite3 .import + INSERT...SELECT)"
            report(ratio_line(name, ours, baseline, SQLITE_TARGET, rows))
            if SQLITE_REPEATS > 1:
                each = ", ".join(f"{b / o:.2f}x" for b, o in zip(baselines, ours_runs, strict=True))
                print(f"  medians of {SQLITE_REPEATS} interleaved runs; each run: {each}")
            if kind == "actuals":
                floor = median_of(floors)
                budget = baseline / SQLITE_TARGET
                print(
                    f"  floor: SQLite's own INSERT of these rows, presorted, no per-row checks, "
                    f"+ COMMIT: {floor:.2f} s, {floor / budget:.0%} of the {budget:.2f} s a "
                    f"{SQLITE_TARGET}x import may take ({budget - floor:.2f} s left to start, "
                    "read, check and stage the file)",
                    flush=True,
                )


def actuals_floor(database: Path, path: Path) -> float:
    """Seconds SQLite takes to store the actuals file's rows and commit, with nothing
    else to do: the rows (ids from the one definition) wait in primary-key order in a
    file of their own, attached (made before the clock starts; a TEMP table was slower
    to read); no per-row CHECKs, foreign keys or guard triggers; the indexes stay, as
    the stored table needs them; the connection as the import's (WAL, synchronous
    NORMAL, its page cache)."""
    rows_file = database.with_name(database.stem + "-rows.db")
    rows_file.unlink(missing_ok=True)
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("ATTACH DATABASE ? AS file_rows", (str(rows_file),))
        connection.execute("PRAGMA file_rows.journal_mode=OFF")
        connection.execute("PRAGMA file_rows.synchronous=OFF")
        connection.execute("BEGIN")  # one transaction for the set-up, not one per row
        connection.execute(
            "CREATE TABLE file_rows.unsorted (actual_id TEXT, forecast_id TEXT, store_id TEXT, "
            "week_number INTEGER, units_sold INTEGER)"
        )
        with open(path, encoding="utf-8", newline="") as file:
            reader = csv.reader(file)
            next(reader)
            connection.executemany(
                "INSERT INTO file_rows.unsorted VALUES (?, 'F1', ?, ?, ?)",
                (
                    (actual_sales_id("F1", store, int(week)), store, int(week), int(units))
                    for store, week, units in reader
                ),
            )
        connection.execute(
            "CREATE TABLE file_rows.sorted AS SELECT * FROM file_rows.unsorted ORDER BY 1"
        )
        connection.execute("DROP TABLE file_rows.unsorted")
        connection.execute("COMMIT")
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        connection.execute("PRAGMA ignore_check_constraints=ON")
        connection.execute("BEGIN IMMEDIATE")
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'actual_sales'"
        ).fetchall():
            connection.execute(f'DROP TRIGGER "{name}"')
        started = time.perf_counter()
        connection.execute(
            "INSERT INTO actual_sales (actual_id, forecast_id, store_id, week_number, "
            "units_sold) SELECT * FROM file_rows.sorted"
        )
        connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()
        rows_file.unlink(missing_ok=True)


def count(url: str, table: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        total = int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    engine.dispose()
    return total


def bench_postgres(work: Path, rows: int, history: Path) -> None:
    if shutil.which("psql") is None:
        print("PostgreSQL: skipped, the psql command-line tool is not installed")
        return
    admin_url = postgres_admin_url()
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        print(f"PostgreSQL: skipped, {admin_url.render_as_string()} unreachable ({error!r})")
        return
    with_ids = history_file(work / "history-ids.csv", rows, with_ids=True)
    names: list[str] = []

    def database(template: str | None = None) -> str:
        name = f"ffdb_bench_{uuid.uuid4().hex[:8]}"
        names.append(name)
        with admin.connect() as connection:
            suffix = f" TEMPLATE {template}" if template else ""
            connection.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
        return name

    def url(name: str) -> str:
        return admin_url.set(database=name).render_as_string(hide_password=False)

    try:
        template = database()
        seed(url(template), HISTORY_STORES)
        filled = database(template)
        load_other_rows("historical-sales", url(filled), work, rows)
        for start, where in (
            (template, "into an empty table"),
            (filled, f"into a table holding {rows:,} other rows"),
        ):
            baseline_db, ours_db = database(start), database(start)
            psql = [
                "psql",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                # libpq's URI: the SQLAlchemy driver part (+psycopg) is not its scheme.
                admin_url.set(drivername="postgresql", database=baseline_db).render_as_string(
                    hide_password=False
                ),
                "-c",
                "\\copy historical_sales (sale_id, store_id, category_id, week_start_date, "
                f"units_sold) FROM '{with_ids}' WITH (FORMAT csv, HEADER true)",
            ]
            # Each timed run starts with no checkpoint due: the WAL of the set-up (and of
            # the run before) would otherwise land on whichever run comes next.
            with admin.connect() as connection:
                connection.exec_driver_sql("CHECKPOINT")
            baseline = run(psql)
            with admin.connect() as connection:
                connection.exec_driver_sql("CHECKPOINT")
            ours = run(ffdb_import("historical-sales", history, url(ours_db)))
            assert count(url(baseline_db), "historical_sales") == count(
                url(ours_db), "historical_sales"
            )
            name = f"PostgreSQL historical-sales {where} (vs psql \\copy straight into the table)"
            report(ratio_line(name, ours, baseline, POSTGRES_TARGET, rows))
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def bench_memory(work: Path, rows: int) -> None:
    """Peak resident memory of one import of ``rows`` rows, on SQLite and PostgreSQL."""
    path = history_file(work / "memory.csv", rows)
    database = work / "memory.db"
    seed(f"sqlite:///{database}", HISTORY_STORES)
    peak_memory("SQLite", path, f"sqlite:///{database}", rows)
    admin_url = postgres_admin_url()
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"ffdb_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as error:
        print(f"Memory on PostgreSQL: skipped, server unreachable ({error!r})")
        admin.dispose()
        return
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        seed(url, HISTORY_STORES)
        peak_memory("PostgreSQL", path, url, rows)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def peak_memory(backend: str, path: Path, url: str, rows: int) -> None:
    # A fresh parent per measurement, so the peak is the import's and no earlier child's.
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe, *ffdb_import("historical-sales", path, url)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = time.perf_counter() - started
    peak_mb = int(out.split()[-1]) / 1024
    report(
        f"Memory ({backend}): ffdb import historical-sales of {rows:,} rows peaked at "
        f"{peak_mb:.0f} MB resident ({elapsed:.0f} s, {rows / elapsed:,.0f} rows/s; "
        f"{verdict(peak_mb < MEMORY_LIMIT_MB)} target < {MEMORY_LIMIT_MB} MB)"
    )


def main() -> int:
    # ``bench_import.py [sqlite] [postgresql] [memory]``: only those parts (default: all).
    parts = set(sys.argv[1:]) or {"sqlite", "postgresql", "memory"}
    rows = size(1_000_000, 100_000, "FFDB_BENCH_ROWS")
    memory_rows = size(10_000_000, 1_000_000, "FFDB_BENCH_MEMORY_ROWS")
    print(f"bench_import: {rows:,} rows per file ({load()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="ffdb-bench-") as directory:
        work = Path(directory)
        files = {
            "historical-sales": history_file(work / "history.csv", rows),
            "actuals": actuals_file(work / "actuals.csv", rows),
        }
        if "sqlite" in parts:
            bench_sqlite(work, rows, files)
        if "postgresql" in parts:
            bench_postgres(work, rows, files["historical-sales"])
        if memory_rows and "memory" in parts:
            bench_memory(work, memory_rows)
    print(f"bench_import: done ({load()})")
    if MISSED:
        print(f"bench_import: targets missed: {'; '.join(MISSED)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
