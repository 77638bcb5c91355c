"""``ffdb export TABLE --format parquet``: a table as Parquet, with its schema's types.

The rows and layouts are ``export``'s (``stores``, ``historical_sales`` and
``actual_sales`` in the layouts ``ffdb import`` reads back, any other table whole);
each column gets the Arrow type of its schema column: integers ``int64``, floats
``float64``, dates ``date32``, timestamps ``timestamp[us, UTC]``, enums and text
``string``, JSON as its text (keys sorted). The retailer's extra store attributes get
the type their values have (``int64``, ``double``, ``bool``; text otherwise).

Rows stream from the database and are written in row groups of ``BATCH_ROWS``, so
memory stays flat whatever the table's size. pyarrow is imported on first use.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Date, DateTime, Engine, Float, Integer
from sqlalchemy.types import JSON, TypeEngine

from backend.app.database.db import read_only
from backend.app.ingest.export import check_request, table_rows
from backend.app.models import metadata

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 65_536


def arrow_type(sql_type: TypeEngine[Any]) -> pa.DataType:
    """The Arrow type a schema column is written as."""
    import pyarrow as pa

    impl = getattr(sql_type, "impl", sql_type)  # a TypeDecorator's stored type
    if isinstance(impl, Boolean):
        return pa.bool_()
    if isinstance(impl, Integer):
        return pa.int64()
    if isinstance(impl, Float):
        return pa.float64()
    if isinstance(impl, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(impl, Date):
        return pa.date32()
    return pa.string()  # String, Text, Enum, JSON (as its text)


def _column_type(table: str, name: str) -> TypeEngine[Any] | None:
    for owner in (table, "store_clusters"):  # stores' fashion_tier comes from its cluster
        columns = metadata.tables[owner].c
        if name in columns:
            return columns[name].type
    return None


def _is_json(sql_type: TypeEngine[Any] | None) -> bool:
    return isinstance(getattr(sql_type, "impl", sql_type), JSON)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite through text(): the stored JSON text
        value = json.loads(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _text(value: Any) -> str | None:
    """Text of a value: an enum member's value, else the value itself."""
    if value is None:
        return None
    return str(value.value if isinstance(value, enum.Enum) else value)


def _column(values: list[Any], sql_type: TypeEngine[Any] | None) -> pa.Array[Any]:
    import pyarrow as pa

    if sql_type is None:  # an extra store attribute: the type its values have
        try:
            inferred: pa.Array[Any] = pa.array(values)
            return inferred
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([None if v is None else str(v) for v in values], pa.string())
    target = arrow_type(sql_type)
    if _is_json(sql_type):
        return pa.array([_json_text(v) for v in values], pa.string())
    if target == pa.string():
        return pa.array([_text(v) for v in values], pa.string())
    # Dates arrive as ISO text from SQLite through text(): cast parses them.
    typed: pa.Array[Any] = pa.array(values).cast(target)
    return typed


def _batches(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        yield batch


def export_parquet(
    engine: Engine, table: str, output: Path, *, forecast_id: str | None = None
) -> int:
    """Write ``table`` to the Parquet file ``output``; returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_request(table, forecast_id)
    count = 0
    with read_only(engine).connect() as connection:
        header, rows = table_rows(connection, table, forecast_id)
        types = [_column_type(table, name) for name in header]
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        try:
            for batch in _batches(rows):
                columns = [
                    _column([row[i] for row in batch], sql_type) for i, sql_type in enumerate(types)
                ]
                record = pa.record_batch(columns, names=header)
                if writer is None or schema is None:
                    schema = record.schema
                    writer = pq.ParquetWriter(output, schema)
                writer.write_batch(record.cast(schema) if count else record)
                count += len(batch)
            if writer is None:  # no rows: the schema alone
                schema = pa.schema(
                    [
                        (name, pa.string() if sql_type is None else arrow_type(sql_type))
                        for name, sql_type in zip(header, types, strict=True)
                    ]
                )
                writer = pq.ParquetWriter(output, schema)
        finally:
            if writer is not None:
                writer.close()
    return count
