"""A corpus of hostile inputs: each is refused with FILE:LINE or read right, in bounded
memory, and the database is left as it was (issue 12, items 5 and 10).

Small files live in ``data/hostile/`` (see its README); ``/dev/zero``, pipes, a huge
header, a line without an end and oversized fields are made here at run time.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import DATA_DIR, write_file
from backend.tests.support.snapshot import snapshot
from backend.tests.support.sql import query_rows

HOSTILE = DATA_DIR / "hostile"
MAX_LINE_CHARS = 1_000_000  # the longest line the importers read (README: What ffdb refuses)
STORE_HEADER = (
    "store_id,avg_weekly_sales_12mo,store_size_sqft,median_income,location_tier,fashion_tier,"
    "store_format,region"
)
STORE_ROW = "S1,1,1,1,A,PREMIUM,MALL,NORTHEAST"
WEEKLY_HEADER = "week_start_date,store_id,category_id,units_sold"

# file -> (line, column, words of the problem), as `FILE:LINE: column: problem`
REFUSED = {
    "stores_utf16.csv": (1, "(file)", "NUL bytes"),
    "binary_png_header.csv": (1, "(file)", "NUL bytes"),
    "stores_latin1_line3.csv": (3, "store_id", "bytes that are not UTF-8"),
    "stores_mixed_encodings.csv": (3, "store_id", "bytes that are not UTF-8"),
    "stores_unterminated_quote.csv": (2, "row", "fields, expected 8"),
}


def _refused_at(result_stderr: str, path: Path, line: int, column: str, words: str) -> bool:
    return any(
        entry.startswith(f"{path}:{line}: {column}: ") and words in entry
        for entry in result_stderr.splitlines()
    )


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("command", ["stores", "historical-sales"])
def test_hostile_files_are_refused_with_file_and_line(
    migrated_url: URL, capsys: pytest.CaptureFixture[str], name: str, command: str
) -> None:
    before = snapshot(migrated_url)
    path = HOSTILE / name
    line, column, words = REFUSED[name]

    result = run_ffdb(capsys, "import", command, path, "--database-url", migrated_url)

    assert result.exit_code == 1, result.output
    if column != "(file)" and command != "stores":
        # Another command's header: refused by its header, or at the same line.
        assert f"{path}:" in result.stderr
    else:
        assert _refused_at(result.stderr, path, line, column, words), result.stderr
    assert "Error:" not in result.stderr and "Traceback" not in result.stderr
    assert snapshot(migrated_url) == before


def test_a_cr_only_file_is_read_as_its_lines(
    migrated_url: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_ffdb(
        capsys, "import", "stores", HOSTILE / "stores_cr_only.csv", "--database-url", migrated_url
    )

    assert result.exit_code == 0, result.output
    assert query_rows(migrated_url, "SELECT store_id FROM stores ORDER BY 1") == [("S1",), ("S2",)]


# --- made at run time ------------------------------------------------------------------


def _huge_header(folder: Path) -> Path:
    return write_file(folder / "huge_header.csv", "store_id," + "x" * (2 * MAX_LINE_CHARS))


def _endless_last_line(folder: Path) -> Path:
    return write_file(
        folder / "endless.csv", f"{STORE_HEADER}\n{STORE_ROW}\nS2," + "9" * (MAX_LINE_CHARS + 5)
    )


def _oversized_field(folder: Path) -> Path:
    return write_file(
        folder / "oversized_field.csv",
        f'{STORE_HEADER},note\n{STORE_ROW},x\n{STORE_ROW[:-1]}X,"{"y" * 200_000}"\n',
    )


def _nul_in_a_field(folder: Path) -> Path:
    return write_file(
        folder / "nul_field.csv",
        f"{STORE_HEADER}\n{STORE_ROW}\nS\x002,1,1,1,A,PREMIUM,MALL,NORTHEAST\n",
    )


MADE: dict[str, tuple[Callable[[Path], Path], int, str, str]] = {
    "huge header": (_huge_header, 1, "(line)", "longer than 1,000,000 characters"),
    "line without an end": (_endless_last_line, 3, "(line)", "longer than 1,000,000 characters"),
    "oversized field": (_oversized_field, 3, "(line)", "field larger than field limit"),
    "NUL inside a field": (_nul_in_a_field, 3, "store_id", "contains a NUL character"),
}


@pytest.mark.parametrize("case", sorted(MADE))
def test_inputs_made_at_run_time_are_refused_with_file_and_line(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    make, line, column, words = MADE[case]
    path = make(tmp_path)
    before = snapshot(migrated_url)

    result = run_ffdb(capsys, "import", "stores", path, "--database-url", migrated_url)

    assert result.exit_code == 1, result.output
    assert _refused_at(result.stderr, path, line, column, words), result.stderr[:2000]
    assert "(--debug shows more)" not in result.stderr
    assert snapshot(migrated_url) == before


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_a_line_without_an_end_is_refused_in_bounded_memory(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 40 MB of one line: read whole, it alone would take 40 MB (80+ as text).
    path = tmp_path / "one_line.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("store_id,")
        for _ in range(40):
            out.write("z" * 1_000_000)
    tracemalloc.start()
    try:
        result = run_ffdb(capsys, "import", "stores", path, "--database-url", migrated_url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.exit_code == 1, result.output
    assert f"{path}:1: (line): longer than" in result.stderr
    assert peak < 20_000_000, f"peak {peak:,} bytes"


FFDB = "from backend.app.cli.main import main; main()"


def _limited_memory() -> None:
    # 1.5 GB of address space: an importer that buffers /dev/zero dies instead of the host.
    limit = 1_500_000_000
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize("backend_name", ["sqlite"], indirect=True)
def test_dev_zero_is_refused_at_once(migrated_url: URL) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FFDB, "import", "stores", "/dev/zero"],
        env={**os.environ, "DATABASE_URL": str(migrated_url)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited_memory,  # a resource limit, set before any thread
        check=False,
    )

    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.startswith("/dev/zero:1: (file): NUL bytes"), done.stderr[-2000:]


# --- pipes ---------------------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    yield path


@contextmanager
def _feeding(path: Path, content: bytes) -> Iterator[None]:
    """A writer that sends ``content`` down the pipe and closes it. Then, until the block
    ends, it keeps opening and closing the pipe's write end: a reader that wrongly opens
    the pipe a second time gets an end of file instead of waiting for ever."""
    done = threading.Event()

    def write() -> None:
        with path.open("wb") as pipe:
            pipe.write(content)
        while not done.wait(0.2):
            with contextlib.suppress(OSError):  # no reader at this moment
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        done.set()
        writer.join(timeout=10)


def test_a_pipe_is_read_as_a_stream(
    migrated_url: URL, fifo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _feeding(fifo, f"{STORE_HEADER}\n{STORE_ROW}\n".encode()):
        result = run_ffdb(capsys, "import", "stores", fifo, "--database-url", migrated_url)

    assert result.exit_code == 0, result.output
    assert query_rows(migrated_url, "SELECT store_id FROM stores") == [("S1",)]


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (f"{STORE_HEADER}\n{STORE_ROW}\nS\xe92\n".encode("latin-1"), 1, "not UTF-8"),
        (f"{STORE_HEADER}\n".encode() + b"9" * (MAX_LINE_CHARS + 10), 2, "longer than"),
    ],
    ids=["not-utf8", "endless-line"],
)
def test_a_pipe_that_cannot_be_read_is_refused_without_reading_it_twice(
    migrated_url: URL,
    fifo: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    line: int,
    words: str,
) -> None:
    before = snapshot(migrated_url)
    with _feeding(fifo, content):
        result = run_ffdb(capsys, "import", "stores", fifo, "--database-url", migrated_url)

    assert result.exit_code == 1, result.output
    assert any(
        entry.startswith(f"{fifo}:{line}: (line): ") and words in entry
        for entry in result.stderr.splitlines()
    ), result.stderr[:2000]
    assert snapshot(migrated_url) == before


def test_a_huge_bad_value_is_shown_shortened(
    migrated_url: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_income = "9" * 100_000
    path = write_file(
        tmp_path / "huge_value.csv",
        f"{STORE_HEADER}\nS1,1,1,{bad_income},A,PREMIUM,MALL,NORTHEAST\n",
    )

    result = run_ffdb(capsys, "import", "stores", path, "--database-url", migrated_url)

    assert result.exit_code == 1, result.output
    assert f"{path}:2: median_income: " in result.stderr
    assert "... (100,000 characters)" in result.stderr
    assert len(result.stderr) < 2_000
