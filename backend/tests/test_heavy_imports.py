"""pandas, pyarrow and matplotlib load only in the commands and functions that use them:
``ffdb --version``, ``--help`` and ``current`` (and importing the CLI) never load them,
while a frame read does, so this test can tell the difference."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "pyarrow", "matplotlib")
PROBE = """
import json, sys
from backend.app.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def _loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("variance", "--help")])
def test_start_up_loads_no_heavy_library(args: tuple[str, ...]) -> None:
    assert _loaded(*args) == []


def test_current_loads_no_heavy_library_but_a_frame_read_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    assert _loaded("upgrade", "--database-url", url) == []
    assert _loaded("current", "--database-url", url) == []
    # The control, so the probe is known to see them: a frame read loads pandas and pyarrow.
    frame = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from backend.app.queries.frames import store_attributes_frame\n"
            f"store_attributes_frame({url!r})\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert frame.stdout.strip() == str(["pandas", "pyarrow"])


def test_small_weekly_imports_load_no_heavy_library_but_the_arrow_route_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files under 1 MB go row by row: deciding so must not load pyarrow (~0.2 s of a
    350-row import's start-up)."""
    database = tmp_path / "demo.db"
    url = f"sqlite:///{database}"
    subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), "demo", "--database-url", url],
        capture_output=True,
        check=True,
        timeout=300,
    )
    with sqlite3.connect(database) as connection:
        stores = [row[0] for row in connection.execute("SELECT store_id FROM stores")]
    actuals = tmp_path / "week7.csv"
    actuals.write_text(
        "store_id,week_number,units_sold\n" + "".join(f"{store},7,5\n" for store in stores)
    )
    history = tmp_path / "history.csv"
    history.write_text(
        "week_start_date,store_id,category_id,units_sold\n"
        + "".join(f"2030-01-07,{store},CAT-WD,3\n" for store in stores)
    )
    imports = (
        ("import", "actuals", str(actuals), "--forecast-id", "FC-CAT-WD-SS25"),
        ("import", "historical-sales", str(history)),
    )
    for command in imports:
        assert _loaded(*command, "--dry-run", "--database-url", url) == [], command
    # The control: the same files sent through the Arrow route load pyarrow.
    monkeypatch.setenv("FFDB_ARROW_MIN_BYTES", "0")
    for command in imports:
        assert "pyarrow" in _loaded(*command, "--dry-run", "--database-url", url), command


def test_the_models_load_pydantic_only_on_the_first_json_check() -> None:
    """The models name the JSON validators; pydantic (about 0.1 s) loads when one runs,
    so a sales import, which writes no JSON column, never pays for it."""
    probe = (
        "import sys\n"
        "from backend.app.models import Forecast\n"
        "from backend.app.schemas.payloads import validate_models_used\n"
        "before = 'pydantic' in sys.modules\n"
        "validate_models_used(['prophet'])\n"
        "print(before, 'pydantic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["False", "True"]


def test_an_import_pins_the_c_librarys_mmap_threshold_unless_the_user_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """glibc would raise its threshold after the first large free, and the block buffers
    an import frees one after another would stay resident as heap fragments."""
    import ctypes

    from backend.app.cli import import_commands

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    import_commands._large_buffers_returned_when_freed()
    assert calls == [(-3, 128 * 1024)]  # M_MMAP_THRESHOLD at glibc's default
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    import_commands._large_buffers_returned_when_freed()
    assert calls == [(-3, 128 * 1024)]  # the user's own setting stands
