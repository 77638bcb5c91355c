"""Parquet: ``ffdb export TABLE --format parquet`` keeps the schema's types, and ``ffdb
import historical-sales|actuals|stores FILE.parquet`` validates like CSV (problems by
row number, nothing written on a problem); export then import gives the same tables.
Both backends."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.ingest.historical_sales import import_historical_sales
from backend.app.ingest.problems import ImportRejected
from backend.app.models import metadata
from backend.tests.support.cli import run_ffdb
from backend.tests.support.databases import READS, DatabaseCache
from backend.tests.support.snapshot import snapshot

FORECAST = "FC-CAT-WD-SS25"
WHOLE_TABLES = sorted(set(metadata.tables) - {"stores", "historical_sales", "actual_sales"})


@pytest.fixture
def reads_copy(database_cache: DatabaseCache, tmp_path: Path):
    """A writable copy of the read tests' database (demo season seed 42 + edge cases)."""
    with database_cache.copy(READS, tmp_path / "reads-copy.db") as url:
        yield url


def _export(capsys, url: URL, table: str, output: Path, *extra: str) -> None:
    outcome = run_ffdb(
        capsys, "export", table, "--format", "parquet", "-o", output, *extra, "--database-url", url
    )
    assert outcome.exit_code == 0, outcome.output
    assert not output.with_name(output.name + ".partial").exists()


def _expected_arrow_type(column: Any) -> pa.DataType:
    """Independently of the exporter: the Arrow type each kind of column must have."""
    python_type = column.type.python_type if not hasattr(column.type, "impl") else None
    sql_type = getattr(column.type, "impl", column.type)
    if isinstance(sql_type, Boolean):
        return pa.bool_()
    if isinstance(sql_type, Integer):
        return pa.int64()
    if isinstance(sql_type, Float):
        return pa.float64()
    if isinstance(sql_type, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(sql_type, Date):
        return pa.date32()
    assert python_type in (str, None) or issubclass(python_type, str), column
    return pa.string()


@pytest.mark.parametrize("table", WHOLE_TABLES)
def test_every_table_exports_with_its_types_and_values(
    reads_url: URL, tmp_path: Path, capsys, table: str
) -> None:
    output = tmp_path / f"{table}.parquet"
    _export(capsys, reads_url, table, output)
    written = pq.read_table(output)
    model = metadata.tables[table]
    assert written.schema.names == [column.name for column in model.columns]
    for column in model.columns:
        assert written.schema.field(column.name).type == _expected_arrow_type(column), column.name
    rows = snapshot(reads_url)[table]
    assert written.num_rows == len(rows) > 0
    for got, want in zip(written.to_pylist(), rows, strict=True):
        for name, value in want.items():
            if isinstance(value, dict | list):  # JSON: its text
                assert json.loads(got[name]) == value, name
            elif isinstance(value, datetime):
                assert got[name] == value, name  # aware UTC on both sides
            else:
                assert got[name] == value, (name, got[name], value)


def test_history_round_trip_is_exact(reads_copy: URL, tmp_path: Path, capsys) -> None:
    output = tmp_path / "history.parquet"
    _export(capsys, reads_copy, "historical_sales", output)
    schema = pq.read_schema(output)
    assert [(f.name, f.type) for f in schema] == [
        ("week_start_date", pa.date32()),
        ("store_id", pa.string()),
        ("category_id", pa.string()),
        ("units_sold", pa.int64()),
    ]
    # Ids from the natural key: the edge cases' hand-made ids are not kept.
    before = snapshot(reads_copy, without=("created_at", "sale_id"))
    engine = make_engine(reads_copy)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM historical_sales"))
    engine.dispose()
    outcome = run_ffdb(capsys, "import", "historical-sales", output, "--database-url", reads_copy)
    assert outcome.exit_code == 0, outcome.output
    assert f"{pq.read_metadata(output).num_rows} inserted" in outcome.stdout
    assert snapshot(reads_copy, without=("created_at", "sale_id")) == before


def test_actuals_and_stores_round_trip_is_exact(reads_copy: URL, tmp_path: Path, capsys) -> None:
    actuals = tmp_path / "actuals.parquet"
    stores = tmp_path / "stores.parquet"
    _export(capsys, reads_copy, "actual_sales", actuals, "--forecast-id", FORECAST)
    _export(capsys, reads_copy, "stores", stores)
    assert pq.read_schema(actuals).field("week_number").type == pa.int64()
    assert pq.read_schema(stores).field("mall_location").type == pa.bool_()
    before = snapshot(reads_copy, without=("created_at", "source_file"))
    engine = make_engine(reads_copy)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM actual_sales WHERE forecast_id = :f"), {"f": FORECAST})
    engine.dispose()
    weeks = pq.read_table(actuals).column("week_number").to_pylist()
    outcome = run_ffdb(
        capsys,
        "import",
        "actuals",
        actuals,
        "--forecast-id",
        FORECAST,
        "--allow-partial",
        "--database-url",
        reads_copy,
    )
    assert outcome.exit_code == 0, outcome.output
    assert f"{len(weeks)} inserted" in outcome.stdout
    # The same stores again: nothing changes, and the extras stay as they were.
    outcome = run_ffdb(capsys, "import", "stores", stores, "--database-url", reads_copy)
    assert outcome.exit_code == 0, outcome.output
    assert f"0 inserted, 0 updated, {pq.read_metadata(stores).num_rows} unchanged" in (
        outcome.stdout
    )
    assert snapshot(reads_copy, without=("created_at", "source_file")) == before


def _parquet(columns: dict[str, pa.Array]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def test_bad_parquet_rows_are_named_by_row_and_change_nothing(
    reads_copy: URL, tmp_path: Path, capsys
) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(
        _parquet(
            {
                "week_start_date": pa.array([date(2025, 3, 3)] * 3, pa.date32()),
                "store_id": pa.array(["S001", "S404", "S002"]),
                "category_id": pa.array(["CAT-WD"] * 3),
                "units_sold": pa.array([5.0, 2.5, -1.0]),
            }
        )
    )
    before = snapshot(reads_copy)
    outcome = run_ffdb(capsys, "import", "historical-sales", bad, "--database-url", reads_copy)
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines()[:3] == [
        f"{bad}:2: store_id: unknown store ('S404')",
        f"{bad}:2: units_sold: fractional value, expected a whole number ('2.5')",
        f"{bad}:3: units_sold: negative units, expected 0 or more ('-1')",
    ]
    assert snapshot(reads_copy) == before


def test_a_file_that_is_not_parquet_is_refused(reads_copy: URL, tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_text("week_start_date,store_id,category_id,units_sold\n")
    engine = make_engine(reads_copy)
    try:
        with pytest.raises(ImportRejected) as raised:
            import_historical_sales(engine, fake)
    finally:
        engine.dispose()
    [line] = raised.value.lines()
    assert line.startswith(f"{fake}:1: file: not a readable Parquet file")


def test_pandas_parquet_from_a_stream_loads(reads_copy: URL) -> None:
    """What a notebook writes: datetime64 weeks at midnight, int64 units, no file name."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "week_start_date": pd.to_datetime(["2030-01-07", "2030-01-14"]),
            "store_id": ["S001", "S002"],
            "category_id": ["CAT-WD", "CAT-WD"],
            "units_sold": [7, 0],
        }
    )
    payload = io.BytesIO()
    frame.to_parquet(payload, index=False)
    payload.seek(0)
    engine = make_engine(reads_copy)
    try:
        result = import_historical_sales(engine, payload, name="upload")  # found by its bytes
        assert (result.rows_read, result.inserted) == (2, 2)
        with engine.connect() as connection:
            stored = connection.execute(
                text(
                    "SELECT store_id, units_sold FROM historical_sales "
                    "WHERE week_start_date >= :d ORDER BY store_id"
                ),
                {"d": date(2030, 1, 1)},
            ).all()
        assert [tuple(row) for row in stored] == [("S001", 7), ("S002", 0)]
    finally:
        engine.dispose()


def test_columns_of_other_types_are_refused_by_value(reads_copy: URL, tmp_path: Path) -> None:
    odd = tmp_path / "odd.parquet"
    odd.write_bytes(
        _parquet(
            {
                "week_start_date": pa.array([datetime(2030, 1, 7, 15, 30)], pa.timestamp("us")),
                "store_id": pa.array(["S001"]),
                "category_id": pa.array(["CAT-WD"]).dictionary_encode(),
                "units_sold": pa.array([[1, 2]], pa.list_(pa.int64())),
            }
        )
    )
    before = snapshot(reads_copy)
    engine = make_engine(reads_copy)
    try:
        with pytest.raises(ImportRejected) as raised:
            import_historical_sales(engine, odd)
    finally:
        engine.dispose()
    lines = raised.value.lines()
    assert [line.split(": ")[1] for line in lines] == ["units_sold", "week_start_date"]
    assert lines[0].endswith("('[1, 2]')")  # a list is shown as its text, refused
    assert "'2030-01-07 15:30:00" in lines[1]  # not at midnight: not taken as a date
    assert snapshot(reads_copy) == before
