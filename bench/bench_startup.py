"""How fast ``ffdb`` starts, against a bare interpreter and ``alembic current``.

One run, interleaved, each command timed as a new process; the figure is the fastest
of the repeats (what the code costs; the rest is the machine's other work). Targets:

- ``ffdb --version`` and ``ffdb --help``: within 0.15 s of ``python -c pass``;
- ``ffdb current``, ``ffdb check``, ``ffdb stats``: faster than ``alembic current`` on
  the same SQLite database (run from ``backend/`` as its README says);
- ``ffdb import actuals`` of a 350-row weekly file: within 1.5x of ``ffdb current``.

Repeats: 7 (``BENCH_QUICK=1``: 3), or ``FFDB_BENCH_REPEATS``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from subprocess import DEVNULL

from support import (
    ALEMBIC,
    FFDB,
    ROOT,
    actuals_file,
    best_of,
    copy_sqlite,
    load,
    run,
    seed,
    size,
    verdict,
)

VERSION_HELP_MARGIN = 0.15
IMPORT_FACTOR = 1.5
ACTUALS_ROWS = 350


def main() -> None:
    repeats = size(7, 3, "FFDB_BENCH_REPEATS")
    print(f"bench_startup: best of {repeats} ({load()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="ffdb-bench-") as directory:
        work = Path(directory)
        template = work / "template.db"
        seed(f"sqlite:///{template}", stores=-(-ACTUALS_ROWS // 12))
        url = f"sqlite:///{template}"
        actuals = actuals_file(work / "actuals.csv", ACTUALS_ROWS)
        alembic_env = {**os.environ, "DATABASE_URL": url}
        fresh = work / "import.db"

        def command(*args: str) -> float:
            return run([FFDB, *args])

        def import_actuals() -> float:
            copy_sqlite(template, fresh)
            return command(
                "import", "actuals", str(actuals), "--forecast-id", "F1",
                "--database-url", f"sqlite:///{fresh}",
            )  # fmt: skip

        timed = {
            "python -c pass": lambda: run([sys.executable, "-c", "pass"]),
            "ffdb --version": lambda: command("--version"),
            "ffdb --help": lambda: command("--help"),
            "alembic current": lambda: run(
                [ALEMBIC, "current"], cwd=ROOT / "backend", env=alembic_env, stderr=DEVNULL
            ),
            "ffdb current": lambda: command("current", "--database-url", url),
            "ffdb check": lambda: command("check", "--database-url", url),
            "ffdb stats": lambda: command("stats", "--database-url", url),
            f"ffdb import actuals ({ACTUALS_ROWS} rows)": import_actuals,
        }
        best = dict(zip(timed, best_of(repeats, *timed.values()), strict=True))
    for name, seconds in best.items():
        print(f"  {name}: {seconds * 1000:.0f} ms")
    bare = best["python -c pass"]
    for name in ("ffdb --version", "ffdb --help"):
        extra = best[name] - bare
        print(
            f"{name}: {extra * 1000:+.0f} ms over python -c pass "
            f"({verdict(extra <= VERSION_HELP_MARGIN)} "
            f"target <= +{VERSION_HELP_MARGIN * 1000:.0f} ms)"
        )
    alembic = best["alembic current"]
    for name in ("ffdb current", "ffdb check", "ffdb stats"):
        ratio = alembic / best[name]
        print(
            f"{name}: {ratio:.2f}x the speed of alembic current ({verdict(ratio > 1)} target > 1x)"
        )
    factor = best[f"ffdb import actuals ({ACTUALS_ROWS} rows)"] / best["ffdb current"]
    print(
        f"ffdb import actuals ({ACTUALS_ROWS} weekly rows): {factor:.2f}x the time of ffdb current "
        f"({verdict(factor <= IMPORT_FACTOR)} target <= {IMPORT_FACTOR}x)"
    )
    print(f"bench_startup: done ({load()})")


if __name__ == "__main__":
    main()
