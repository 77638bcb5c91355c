"""Imports from a stream: a binary file object with a display name, and ``ffdb import -``.

Same validation, atomicity and problem reports as a path (``NAME:LINE``), on SQLite and
PostgreSQL; the caller's stream is left open.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.ingest.actuals import import_actuals
from backend.app.ingest.historical_sales import import_historical_sales
from backend.app.ingest.problems import ImportRejected
from backend.app.ingest.source import import_source
from backend.app.ingest.stores import import_stores
from backend.tests.support.cli import run_ffdb
from backend.tests.support.exports import (
    FORECAST_ID,
    REPO_EXPORTS,
    WEEKLY_ACTUALS,
    WEEKLY_HISTORY,
)
from backend.tests.support.samples import exports_season
from backend.tests.support.snapshot import snapshot

WEEKLY = "week_start_date,store_id,category_id,units_sold\n"


@pytest.fixture
def stocked(engine: Engine) -> Engine:
    """Stores (imported from a stream) and the exports' season and forecast."""
    with open(REPO_EXPORTS.store_file(0), "rb") as stream:
        result = import_stores(engine, stream, name="upload/stores.csv")
        assert not stream.closed  # the caller's stream stays open
    assert result.inserted == REPO_EXPORTS.stores
    exports_season().write(engine)
    return engine


def _csv_rows(path: Path) -> list[tuple[str, ...]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [tuple(row) for row in list(csv.reader(handle))[1:]]


def test_streamed_history_and_actuals_load_every_row(stocked: Engine) -> None:
    payload = WEEKLY_HISTORY.read_bytes()
    result = import_historical_sales(stocked, io.BytesIO(payload), name="weekly.csv")
    assert result.path == "weekly.csv"
    with stocked.connect() as connection:
        stored = connection.execute(
            text("SELECT week_start_date, store_id, category_id, units_sold FROM historical_sales")
        ).all()
    assert sorted((str(w), s, c, str(u)) for w, s, c, u in stored) == sorted(
        _csv_rows(WEEKLY_HISTORY)
    )

    result = import_actuals(stocked, io.BytesIO(WEEKLY_ACTUALS.read_bytes()), FORECAST_ID)
    assert result.path == "<stream>"  # a BytesIO has no name of its own
    with stocked.connect() as connection:
        actuals = connection.execute(
            text("SELECT store_id, week_number, units_sold FROM actual_sales")
        ).all()
    assert sorted((s, str(w), str(u)) for s, w, u in actuals) == sorted(_csv_rows(WEEKLY_ACTUALS))


def test_streamed_store_file_keeps_its_display_name(stocked: Engine) -> None:
    with stocked.connect() as connection:
        sources = connection.execute(
            text("SELECT DISTINCT source_file FROM store_extra_attributes")
        ).scalars()
        assert list(sources) == ["stores.csv"]


def test_stream_problems_name_the_stream_and_change_nothing(stocked: Engine) -> None:
    before = snapshot(stocked)
    bad = WEEKLY + "2024-02-19,S001,womens_dresses,5\n2024-02-19,S404,womens_dresses,-1\n"
    with pytest.raises(ImportRejected) as raised:
        import_historical_sales(stocked, io.BytesIO(bad.encode()), name="upload.csv")
    assert raised.value.lines() == [
        "upload.csv:3: store_id: unknown store ('S404')",
        "upload.csv:3: units_sold: negative units, expected 0 or more ('-1')",
    ]
    assert snapshot(stocked) == before


def test_bytes_that_are_not_utf8_are_named_by_line_in_a_stream(stocked: Engine) -> None:
    before = snapshot(stocked)
    lines = [WEEKLY.encode()] + [b"2024-02-19,S001,womens_dresses,5\n"] * 3
    lines[2] = b"2024-02-19,S0\xff2,womens_dresses,5\n"
    lines.append(b"2024-02-26,S001,womens_\xe9,5\n")
    with pytest.raises(ImportRejected) as raised:
        import_historical_sales(stocked, io.BytesIO(b"".join(lines)), name="latin1.csv")
    assert raised.value.lines() == [
        r"latin1.csv:3: store_id: bytes that are not UTF-8 (b'\xff') ('S0\\xff2')",
        r"latin1.csv:5: category_id: bytes that are not UTF-8 (b'\xe9') ('womens_\\xe9')",
    ]
    assert snapshot(stocked) == before


def test_a_byte_order_mark_in_a_stream_is_dropped(stocked: Engine) -> None:
    payload = b"\xef\xbb\xbf" + (WEEKLY + "2024-02-19,S001,womens_dresses,5\n").encode()
    result = import_historical_sales(stocked, io.BytesIO(payload), name="excel.csv")
    assert (result.inserted, result.rows_read) == (1, 1)


@pytest.fixture
def stocked_url(migrated_url: URL) -> Iterator[URL]:
    engine = make_engine(migrated_url)
    with open(REPO_EXPORTS.store_file(0), "rb") as stream:
        import_stores(engine, stream)
    exports_season().write(engine)
    engine.dispose()
    yield migrated_url


def _stdin(monkeypatch: pytest.MonkeyPatch, payload: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(payload)))


def test_cli_reads_standard_input(stocked_url: URL, monkeypatch, capsys) -> None:
    _stdin(monkeypatch, WEEKLY_ACTUALS.read_bytes())
    outcome = run_ffdb(
        capsys,
        "import",
        "actuals",
        "-",
        "--forecast-id",
        FORECAST_ID,
        "--database-url",
        stocked_url,
    )
    assert outcome.exit_code == 0, outcome.output
    rows = len(_csv_rows(WEEKLY_ACTUALS))
    assert outcome.stdout.startswith(f"<stdin>: weekly actuals file, {rows} rows read")
    assert f"{rows} inserted" in outcome.stdout


def test_cli_names_standard_input_in_problems(stocked_url: URL, monkeypatch, capsys) -> None:
    before = snapshot(stocked_url)
    _stdin(monkeypatch, (WEEKLY + "2024-02-19,S001,womens_dresses,2.5\n").encode())
    outcome = run_ffdb(
        capsys,
        "import",
        "historical-sales",
        "-",
        "--name",
        "week.csv",
        "--database-url",
        stocked_url,
    )
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines()[0] == (
        "week.csv:2: units_sold: fractional value, expected a whole number ('2.5')"
    )
    assert snapshot(stocked_url) == before


def test_a_seekable_stream_can_be_read_again_and_a_pipe_cannot(tmp_path: Path) -> None:
    stream = io.BytesIO(b"skip" + WEEKLY.encode())
    stream.read(4)
    rewind = import_source(stream).rewinder()
    assert rewind is not None
    stream.read()
    rewind()
    assert stream.read() == WEEKLY.encode()  # back where the source started, not at 0

    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as pipe, os.fdopen(write_end, "wb"):
        assert import_source(pipe, "pipe").rewinder() is None
    assert import_source(tmp_path / "a.csv").rewinder() is not None


def test_a_stream_with_cr_or_crlf_line_ends_reads_like_a_file(stocked: Engine) -> None:
    rows = ["2024-02-19,S001,womens_dresses,5", "2024-02-19,S002,womens_dresses,x"]
    for end in ("\r", "\r\n"):
        payload = end.join([WEEKLY.strip(), *rows]) + end
        with pytest.raises(ImportRejected) as raised:
            import_historical_sales(stocked, io.BytesIO(payload.encode()), name="old-mac.csv")
        assert raised.value.lines() == [
            "old-mac.csv:3: units_sold: not a number, expected a whole number ('x')"
        ]
    payload = "\r".join([WEEKLY.strip(), rows[0]])  # no line end after the last row
    result = import_historical_sales(stocked, io.BytesIO(payload.encode()), name="cr.csv")
    assert (result.rows_read, result.inserted) == (1, 1)
