"""``ffdb import`` against the databases' own loaders, and its peak memory.

All in one run, on identical fresh databases, each case into an empty table and into
one already holding as many other rows:

- SQLite, weekly history and weekly actuals: the ``sqlite3`` CLI's ``.import`` into a
  TEMP table, then ``INSERT ... SELECT`` into the table (target: ffdb >= 2.5x faster);
- PostgreSQL, weekly history: ``psql``'s ``\\copy historical_sales FROM file csv``
  straight into the table, from a file that already holds the ids (target: >= 1.0x);
- peak resident memory of ``ffdb import historical-sales`` on a much larger file, on
  SQLite and PostgreSQL (target < 200 MB), measured by a parent process with ``getrusage``.

Sizes: 1,000,000 rows and 10,000,000 for memory (``BENCH_QUICK=1``: 100,000 and
1,000,000), or ``FFDB_BENCH_ROWS`` / ``FFDB_BENCH_MEMORY_ROWS``. A baseline whose tool
(``sqlite3``, ``psql``) or server is missing is skipped with a message.
"""

from __future__ import annotations

import shutil
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
    postgres_admin_url,
    ratio_line,
    run,
    seed,
    size,
    verdict,
)

from backend.app.database.db import make_engine

SQLITE_TARGET, POSTGRES_TARGET, MEMORY_LIMIT_MB = 2.5, 1.0, 200
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
            baseline_db = copy_sqlite(start, work / "baseline.db")
            ours_db = copy_sqlite(start, work / "ours.db")
            script = "\n".join(
                [STAGE[kind], ".mode csv", f".import --skip 1 {path} stage", MOVE[kind]]
            )
            baseline = run(["sqlite3", str(baseline_db)], input=script.encode())
            ours = run(ffdb_import(kind, path, f"sqlite:///{ours_db}"))
            table = "historical_sales" if kind == "historical-sales" else "actual_sales"
            assert count(f"sqlite:///{baseline_db}", table) == count(f"sqlite:///{ours_db}", table)
            where = f"into a table holding {rows:,} other rows" if filled else "into an empty table"
            name = f"SQLite {kind} {where} (vs sqlite3 .import + INSERT...SELECT)"
            report(ratio_line(name, ours, baseline, SQLITE_TARGET, rows))


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
