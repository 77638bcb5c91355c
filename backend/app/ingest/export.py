"""``ffdb export``: a table as CSV that ``ffdb import`` reads back unchanged.

- ``stores``: the retailer's 13-column store-attributes layout (its column order),
  then ``store_name``, then any other kept extra attribute; fashion_tier comes from
  the store's cluster and the extras from ``store_extra_attributes``.
- ``historical_sales``: weekly rows ``week_start_date,store_id,category_id,units_sold``.
- ``actual_sales``: weekly rows ``store_id,week_number,units_sold`` of one forecast.
- any other table: every column, in the table's order.

Text that a spreadsheet would run as a formula is written with a leading ``'``
(see ``normalize.neutralize``); the importers strip exactly that prefix. Numbers are
never text here, so numeric columns are written as they are. Rows stream from the
database: exporting ten million rows holds a thousand at a time.
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TextIO

from sqlalchemy import Engine, Table, text

from backend.app.database.db import read_only
from backend.app.ingest.fields import number_text
from backend.app.ingest.formats import STORE_COLUMNS, STORE_EXTRA_COLUMNS
from backend.app.ingest.normalize import neutralize
from backend.app.models import metadata

BATCH = 1000
STORE_EXPORT_COLUMNS = (*STORE_COLUMNS, *STORE_EXTRA_COLUMNS, "store_name")


class ExportError(ValueError):
    """The export cannot be made as asked (unknown table, missing forecast id)."""


def cell(value: Any) -> str:
    """One value as CSV text that the importers read back to the same value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return neutralize(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return neutralize(str(value))


def exportable_tables() -> list[str]:
    return sorted(metadata.tables)


def check_request(table: str, forecast_id: str | None) -> None:
    """Refuse an unknown table, or --forecast-id for another table than actual_sales."""
    if table not in metadata.tables:
        raise ExportError(f"no table {table!r}; tables: {', '.join(exportable_tables())}")
    if forecast_id is not None and table != "actual_sales":
        raise ExportError("--forecast-id applies to actual_sales only")


def table_rows(
    connection: Any, table: str, forecast_id: str | None = None
) -> tuple[list[str], Iterable[Sequence[Any]]]:
    """The export's header and its rows (streamed) of ``table``, in the layouts above;
    values as the models read them (dates, aware UTC datetimes, parsed JSON)."""
    check_request(table, forecast_id)
    if table == "stores":
        return _stores(connection)
    if table == "historical_sales":
        header = ["week_start_date", "store_id", "category_id", "units_sold"]
        rows = _stream(
            connection,
            "SELECT week_start_date, store_id, category_id, units_sold FROM historical_sales "
            "ORDER BY week_start_date, store_id, category_id",
            {},
        )
        return header, rows
    if table == "actual_sales":
        if forecast_id is None:
            raise ExportError(
                "actual_sales is exported per forecast: give --forecast-id "
                "(the file's rows are store_id,week_number,units_sold)"
            )
        known = connection.execute(
            text("SELECT 1 FROM forecasts WHERE forecast_id = :forecast_id"),
            {"forecast_id": forecast_id},
        ).first()
        if known is None:
            # A header-only file would read as "no actuals yet" for a mistyped id.
            raise ExportError(f"forecast {forecast_id!r} does not exist: nothing exported")
        header = ["store_id", "week_number", "units_sold"]
        rows = _stream(
            connection,
            "SELECT store_id, week_number, units_sold FROM actual_sales "
            "WHERE forecast_id = :forecast_id ORDER BY week_number, store_id",
            {"forecast_id": forecast_id},
        )
        return header, rows
    return _whole_table(connection, metadata.tables[table])


def export_table(engine: Engine, table: str, out: TextIO, *, forecast_id: str | None = None) -> int:
    """Write ``table`` to ``out``; returns the number of data rows."""
    check_request(table, forecast_id)
    writer = csv.writer(out, lineterminator="\n")
    with read_only(engine).connect() as connection:
        header, rows = table_rows(connection, table, forecast_id)
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow([cell(value) for value in row])
            count += 1
    return count


def _stream(connection: Any, sql: str, parameters: dict[str, Any]) -> Iterator[Sequence[Any]]:
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(
        text(sql), parameters
    )
    for row in result:
        yield tuple(row)


def _whole_table(connection: Any, table: Table) -> tuple[list[str], Iterable[Sequence[Any]]]:
    order = list(table.primary_key.columns) or list(table.columns)
    query = table.select().order_by(*order)
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    return [column.name for column in table.columns], (tuple(row) for row in result)


def _stores(connection: Any) -> tuple[list[str], Iterable[Sequence[Any]]]:
    """Stores in the retailer's layout; extras beyond the known five get their own columns."""
    rows = connection.execute(
        text(
            "SELECT s.store_id, s.avg_weekly_sales_12mo, s.store_size_sqft, s.median_income, "
            "s.location_tier, c.fashion_tier, s.store_format, s.region, s.store_name, "
            "e.attributes FROM stores s JOIN store_clusters c ON c.cluster_id = s.cluster_id "
            "LEFT JOIN store_extra_attributes e ON e.store_id = s.store_id ORDER BY s.store_id"
        )
    ).all()
    decoded = [_attributes(row[9]) for row in rows]
    others = sorted({key for extras in decoded for key in extras} - set(STORE_EXPORT_COLUMNS))
    header = [*STORE_EXPORT_COLUMNS, *others]
    out: list[list[Any]] = []
    for row, extras in zip(rows, decoded, strict=True):
        known = [extras.get(name) for name in STORE_EXTRA_COLUMNS]
        out.append([*row[:8], *known, row[8], *(extras.get(name) for name in others)])
    return header, out


def _attributes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):  # SQLite hands JSON back as text through text()
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value)
