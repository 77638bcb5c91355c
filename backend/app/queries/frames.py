"""The reads the data teams want as pandas DataFrames, each in one call, on both backends.

Rows travel as Arrow columns: the statement is built with SQLAlchemy (bound parameters,
one text per backend), run through the project's ADBC connection
(``backend.app.database.arrow``: record batches from SQLite's C loop, binary COPY on
PostgreSQL), the columns are given their documented types in Arrow (ISO date text ->
``date32``, ids -> dictionary) and handed to pandas without a Python object per row.

- ``history_frame(bind, category, by="total")``: per week: ``week_start_date``
  (datetime64[ms]), ``units_sold`` (int64); ``by="cluster"`` adds ``cluster_id``,
  ``by="store"`` ``store_id`` (category dtype) as the first column.
- ``prophet_frame(bind, category[, store_id=, cluster_id=])``: ``ds`` (datetime64[ms]),
  ``y`` (float64).
- ``store_attributes_frame(bind)``: per store (index ``store_id``), its columns and the
  retailer's extra attributes, numeric or categorical, ready for clustering.
- ``forecast_actuals_frame(session, forecast, week)``: per season week, forecast against
  actuals with ``<NA>`` for weeks without actuals (not zeros).

Weeks are those the table holds (a week without a row is absent, not a zero); rows are
ordered by their key (cluster or store, then week). The per-store history, the one big
read, is fetched as ranges of store ids on ``READ_PARTS`` connections in parallel
threads, all on one snapshot, and put back together in key order: the same frame as one
read. pandas and pyarrow are imported inside the functions, so importing this module
(and ``ffdb``) stays cheap.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, Select, Text, cast, exists, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.arrow import arrow_connection, arrow_snapshot
from backend.app.database.db import normalize_url
from backend.app.maintenance.definitions import season_week_days
from backend.app.models import (
    Category,
    HistoricalSales,
    Store,
    StoreCluster,
    StoreExtraAttributes,
)
from backend.app.queries.errors import InvalidReadArgument, NotFound
from backend.app.queries.history import weekly_history_query
from backend.app.queries.season import forecast_season
from backend.app.queries.sql import total
from backend.app.queries.variance import cumulative_variance, forecast_variance

if TYPE_CHECKING:
    from datetime import date

    import pandas as pd
    import pyarrow as pa

    from backend.app.schemas.read_models import VarianceReport

AnySelect = Select[*tuple[Any, ...]]
Bind = Engine | Connection | Session | URL | str
HistoryLevel = Literal["total", "cluster", "store"]
HISTORY_LEVELS: tuple[HistoryLevel, ...] = ("total", "cluster", "store")
# Connections (and threads) the per-store history is read through: one per core, a few
# at most (each is a connection, and on PostgreSQL a server process).
READ_PARTS = max(1, min(4, os.cpu_count() or 1))
# On PostgreSQL each more connection costs about 0.1 s (the ADBC driver loads the type
# catalogue on connect): a read the planner expects to be smaller stays on one.
SPLIT_MIN_ROWS = 500_000


def database_url(bind: Bind) -> URL:
    """The URL (password kept, never printed) an Arrow connection is opened from."""
    if isinstance(bind, Session):
        found = bind.get_bind()
        return found.engine.url
    if isinstance(bind, Engine | Connection):
        return bind.engine.url
    return normalize_url(bind)


def history_frame(bind: Bind, category_id: str, by: HistoryLevel = "total") -> pd.DataFrame:
    """The category's weekly units sold: in total, per cluster, or per store.

    ``by="total"``: ``week_start_date``, ``units_sold`` (the same series as
    ``queries.weekly_history``); ``"cluster"``: ``cluster_id``, ``week_start_date``,
    ``units_sold`` summed over the cluster's stores; ``"store"``: ``store_id``,
    ``week_start_date``, ``units_sold`` as stored. Ids are ``category`` dtype, weeks
    ``datetime64[ms]``, units ``int64``. Raises ``NotFound`` for an unknown category.
    """
    if by not in HISTORY_LEVELS:
        raise InvalidReadArgument(f"by={by!r}: expected one of {', '.join(HISTORY_LEVELS)}")
    statement = history_statement(category_id, by)
    keys = [("category", Category.category_id, category_id)]
    if by == "store":
        # Rows as stored: the one level big enough (a row per store and week) to pay for
        # reading in parallel.
        table = _read_by_store_ranges(bind, statement, keys, READ_PARTS)
    else:
        table = _read_arrow(bind, statement, keys)
    return _to_pandas(table)


def prophet_frame(
    bind: Bind, category_id: str, *, store_id: str | None = None, cluster_id: str | None = None
) -> pd.DataFrame:
    """The weekly series Prophet and ARIMA fit: ``ds`` (week start, datetime64[ms]) and
    ``y`` (units sold, float64), for the category's stores, one cluster or one store."""
    statement = weekly_history_query(category_id, store_id=store_id, cluster_id=cluster_id)
    keys = [
        ("category", Category.category_id, category_id),
        ("store", Store.store_id, store_id),
        ("store cluster", StoreCluster.cluster_id, cluster_id),
    ]
    table = _read_arrow(bind, statement, keys)
    frame = _to_pandas(table)
    return frame.rename(columns={"week_start_date": "ds", "units_sold": "y"}).astype(
        {"y": "float64"}
    )


def store_attributes_frame(bind: Bind) -> pd.DataFrame:
    """One row per store (index ``store_id``), ready for clustering.

    Columns: ``store_name`` (string), ``cluster_id``, ``fashion_tier``,
    ``location_tier``, ``store_format``, ``region`` (category), ``store_size_sqft``,
    ``median_income`` (int64), ``avg_weekly_sales_12mo`` (float64), then each key of the
    retailer's extra attributes (``store_extra_attributes``: ``foot_traffic``,
    ``mall_location``, ...) as a nullable column (Int64, Float64, boolean or string)
    with ``<NA>`` where a store lacks it.
    """
    import pandas as pd

    statement = (
        select(
            Store.store_id,
            Store.store_name,
            Store.cluster_id,
            StoreCluster.fashion_tier,
            Store.location_tier,
            Store.store_format,
            Store.region,
            Store.store_size_sqft,
            Store.median_income,
            Store.avg_weekly_sales_12mo,
            cast(StoreExtraAttributes.attributes, Text).label("attributes"),
        )
        .join(StoreCluster, StoreCluster.cluster_id == Store.cluster_id)
        .outerjoin(StoreExtraAttributes, StoreExtraAttributes.store_id == Store.store_id)
        .order_by(Store.store_id)
    )
    table = _read_arrow(bind, statement)
    extras_text = table.column("attributes").to_pylist()
    frame: pd.DataFrame = table.drop_columns(["attributes"]).to_pandas()
    frame = frame.astype(
        {
            "store_id": "string",
            "store_name": "string",
            "cluster_id": "category",
            "fashion_tier": "category",
            "location_tier": "category",
            "store_format": "category",
            "region": "category",
            "store_size_sqft": "int64",
            "median_income": "int64",
            "avg_weekly_sales_12mo": "float64",
        }
    )
    # A few thousand stores at most: one small JSON object each.
    extras = pd.DataFrame.from_records(
        [json.loads(text) if text else {} for text in extras_text], index=frame.index
    )
    if len(extras.columns):
        frame = frame.join(extras[sorted(extras.columns)].convert_dtypes())
    return frame.set_index("store_id")


def forecast_actuals_frame(session: Session, forecast_id: str, week: int) -> pd.DataFrame:
    """Forecast against actuals per season week 1..``week``, one row per week.

    The numbers are ``queries.forecast_variance``'s (one definition of variance,
    missing weeks and partial weeks): ``week_number`` (int64), ``week_start`` and
    ``week_end`` (datetime64[ms], the season week by ``definitions.season_week_days``),
    ``forecast_units`` (int64), ``actual_units``, ``variance_units`` (Int64),
    ``variance_pct`` (Float64), ``stores_reported`` (int64), ``partial`` (bool), and the
    running totals over the weeks reported so far: ``cumulative_forecast_units``,
    ``cumulative_actual_units``, ``cumulative_variance_units`` (Int64) and
    ``cumulative_variance_pct`` (Float64). A week without actuals has ``<NA>`` in every
    actual and variance column: missing is not zero.
    """
    report = forecast_variance(session, forecast_id, week)
    return variance_frame(report, forecast_season(session, forecast_id).season_start_date)


def variance_frame(report: VarianceReport, season_start: date) -> pd.DataFrame:
    """``forecast_actuals_frame`` of a variance report already read (its season starting
    on ``season_start``): a caller that has the report does not read it again."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for number, entry in enumerate(report.weeks, 1):
        first, last = season_week_days(entry.week_number, season_start)
        reported = entry.actual_units is not None
        # The report's own cumulative rule, over the weeks up to this one.
        so_far = cumulative_variance(report.weeks[:number])
        rows.append(
            {
                "week_number": entry.week_number,
                "week_start": first,
                "week_end": last,
                "forecast_units": entry.forecast_units,
                "actual_units": entry.actual_units,
                "variance_units": entry.variance_units,
                "variance_pct": entry.variance_pct,
                "stores_reported": entry.stores_reported,
                "partial": entry.partial,
                "cumulative_forecast_units": so_far.forecast_units if reported else None,
                "cumulative_actual_units": so_far.actual_units if reported else None,
                "cumulative_variance_units": so_far.variance_units if reported else None,
                "cumulative_variance_pct": so_far.variance_pct if reported else None,
            }
        )
    frame = pd.DataFrame.from_records(rows, columns=list(_ACTUALS_DTYPES))
    frame["week_start"] = pd.to_datetime(frame["week_start"]).astype("datetime64[ms]")
    frame["week_end"] = pd.to_datetime(frame["week_end"]).astype("datetime64[ms]")
    return frame.astype(_ACTUALS_DTYPES)


_ACTUALS_DTYPES: dict[str, str] = {
    "week_number": "int64",
    "week_start": "datetime64[ms]",
    "week_end": "datetime64[ms]",
    "forecast_units": "int64",
    "actual_units": "Int64",
    "variance_units": "Int64",
    "variance_pct": "Float64",
    "stores_reported": "int64",
    "partial": "bool",
    "cumulative_forecast_units": "Int64",
    "cumulative_actual_units": "Int64",
    "cumulative_variance_units": "Int64",
    "cumulative_variance_pct": "Float64",
}


# --- statements ---------------------------------------------------------------------------


def history_statement(category_id: str, by: HistoryLevel) -> AnySelect:
    """The statement behind ``history_frame`` (for a plan, or a baseline to compare)."""
    if by == "total":
        return weekly_history_query(category_id)
    if by == "cluster":
        return (
            select(
                Store.cluster_id,
                HistoricalSales.week_start_date,
                total(HistoricalSales.units_sold).label("units_sold"),
            )
            .join(Store, Store.store_id == HistoricalSales.store_id)
            .where(HistoricalSales.category_id == category_id)
            .group_by(Store.cluster_id, HistoricalSales.week_start_date)
            .order_by(Store.cluster_id, HistoricalSales.week_start_date)
        )
    # As stored, in the order of the (store_id, category_id, week_start_date) key.
    return (
        select(
            HistoricalSales.store_id, HistoricalSales.week_start_date, HistoricalSales.units_sold
        )
        .where(HistoricalSales.category_id == category_id)
        .order_by(HistoricalSales.store_id, HistoricalSales.week_start_date)
    )


# --- running a statement through ADBC -------------------------------------------------------


def _compiled(statement: AnySelect, backend: str) -> tuple[str, list[Any]]:
    """The statement's SQL in the placeholder style of the backend's ADBC driver (``?`` on
    SQLite, ``$1`` on PostgreSQL) and its parameters in order."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = (
        postgresql.psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        if backend == "postgresql"
        else sqlite.pysqlite.dialect(paramstyle="qmark")
    )
    compiled = statement.compile(dialect=dialect)
    parameters = compiled.construct_params()
    order = compiled.positiontup or []
    values = [parameters[name] for name in order]
    if backend == "postgresql" and all(_plain_literal(value) for value in values):
        # ADBC's PostgreSQL driver streams a statement without parameters as binary COPY;
        # one with parameters is first materialised through libpq (about twice as slow).
        # So plain ids and numbers are rendered by SQLAlchemy's literal processor for the
        # dialect (quotes doubled, with standard_conforming_strings on), never by
        # formatting text into SQL here.
        literal = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        return str(literal), []
    return str(compiled), values


def _plain_literal(value: Any) -> bool:
    """A value safe and exact as an SQL literal: an int, or text without NUL."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and "\x00" not in value)


def _read_arrow(
    bind: Bind, statement: AnySelect, keys: Sequence[tuple[str, Any, str | None]] = ()
) -> pa.Table:
    """The statement's rows as an Arrow table, columns in their documented Arrow types
    (``_normalized``). ``keys``: (label, key column, value) the statement reads by; when
    it returns no rows, a value that names nothing raises ``NotFound``."""
    url = database_url(bind)
    backend = url.get_backend_name()
    with arrow_connection(url) as connection:
        table = _fetch(connection, backend, statement)
        if table.num_rows == 0:
            _check_keys(connection, backend, keys)
    return _normalized(table, statement)


def _read_by_store_ranges(
    bind: Bind,
    statement: AnySelect,
    keys: Sequence[tuple[str, Any, str | None]],
    parts: int,
) -> pa.Table:
    """``_read_arrow`` of a statement ordered by ``HistoricalSales.store_id`` first, read
    as up to ``parts`` ranges of store ids in parallel threads, one connection each, all
    on one snapshot (``arrow_snapshot``): the same table, in the same order.

    Each range is the statement with ``pivot <= store_id < next pivot`` added; the pivots
    split the (small) stores table evenly, in its ``ORDER BY store_id`` order, which is the
    order the comparisons use (the same column type and collation), so the ranges cover
    every row once and, concatenated in pivot order, keep the statement's order. The
    drivers leave the GIL while they fetch (SQLite's C loop, PostgreSQL's COPY reader),
    and each PostgreSQL range has its own server process scanning the index. On
    PostgreSQL a read the planner expects below ``SPLIT_MIN_ROWS`` stays on one
    connection.
    """
    import pyarrow as pa

    url = database_url(bind)
    backend = url.get_backend_name()
    with arrow_connection(url) as first:
        store_ids = _fetch(first, backend, select(Store.store_id).order_by(Store.store_id))
        if backend == "postgresql" and _estimated_rows(first, statement) < SPLIT_MIN_ROWS:
            parts = 1
        with arrow_snapshot(url, parts, first) as connections:
            statements = _store_ranges(statement, store_ids.column(0).to_pylist(), len(connections))
            if len(statements) == 1:
                tables = [_typed(_fetch(first, backend, statement), statement)]
            else:
                from concurrent.futures import ThreadPoolExecutor

                def read(connection: Any, part: AnySelect) -> pa.Table:
                    return _typed(_fetch(connection, backend, part), part)

                with ThreadPoolExecutor(max_workers=len(statements)) as pool:
                    tables = list(pool.map(read, connections, statements))
            table = pa.concat_tables(tables)
            if table.num_rows == 0:
                _check_keys(first, backend, keys)
    return _encoded(table)


def _estimated_rows(connection: Any, statement: AnySelect) -> float:
    """The PostgreSQL planner's estimate of the statement's rows (planning only, from the
    statistics ANALYZE and autovacuum keep); 0 when the statement needs parameters."""
    from adbc_driver_manager import NotSupportedError

    sql, parameters = _compiled(statement, "postgresql")
    if parameters:
        return 0.0
    cursor = connection.cursor()
    try:
        cursor.execute("SET standard_conforming_strings = on")
        # EXPLAIN cannot run inside the COPY the driver wraps a query in by default; a
        # driver too old for the option gives no estimate, and the read splits.
        try:
            cursor.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
        except NotSupportedError:
            return math.inf
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        found = cursor.fetchone()
    finally:
        cursor.close()
    plan = json.loads(found[0]) if found else []
    return float(plan[0]["Plan"]["Plan Rows"]) if plan else 0.0


def _store_ranges(statement: AnySelect, store_ids: Sequence[str], parts: int) -> list[AnySelect]:
    """``statement`` cut into at most ``parts`` ranges of ``HistoricalSales.store_id`` by
    pivots taken evenly from ``store_ids`` (sorted, distinct); one statement when there
    are too few stores to split."""
    count = min(parts, len(store_ids))
    if count < 2:
        return [statement]
    pivots = [store_ids[len(store_ids) * index // count] for index in range(1, count)]
    column = HistoricalSales.store_id
    ranges = [statement.where(column < pivots[0])]
    ranges += [statement.where(column >= low, column < high) for low, high in pairwise(pivots)]
    ranges.append(statement.where(column >= pivots[-1]))
    return ranges


def _fetch(connection: Any, backend: str, statement: AnySelect) -> pa.Table:
    """The statement's rows as the driver returns them."""
    cursor = connection.cursor()
    try:
        sql, parameters = _compiled(statement, backend)
        if backend == "postgresql" and not parameters:
            # What makes the literals in ``sql`` plain text with only ' escaped.
            cursor.execute("SET standard_conforming_strings = on")
        if backend == "sqlite":
            # Bigger record batches: fewer round trips through the driver per row.
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
        cursor.execute(sql, parameters)
        table: pa.Table = cursor.fetch_arrow_table()
        return table
    finally:
        cursor.close()


def _check_keys(connection: Any, backend: str, keys: Sequence[tuple[str, Any, str | None]]) -> None:
    """Raise ``NotFound`` for the first key value that names nothing (asked only when a
    read came back empty)."""
    cursor = connection.cursor()
    try:
        for label, column, value in keys:
            if value is None:
                continue
            sql, parameters = _compiled(select(exists().where(column == value)), backend)
            cursor.execute(sql, parameters)
            found = cursor.fetchone()
            if found is None or not found[0]:
                raise NotFound(f"{label} {value!r} does not exist")
    finally:
        cursor.close()


def _normalized(table: pa.Table, statement: AnySelect) -> pa.Table:
    """Dates as ``date32`` (SQLite returns ISO text), integers as ``int64``, ids as
    dictionaries (pandas ``category``), whatever each backend's driver returned."""
    return _encoded(_typed(table, statement))


def _typed(table: pa.Table, statement: AnySelect) -> pa.Table:
    """``_normalized`` but ids left as strings: the part of it that can run per range
    (dictionaries are made once, over the whole table, by ``_encoded``)."""
    import pyarrow as pa
    from sqlalchemy import Date, Float, Integer

    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        sql_type = statement.selected_columns[name].type
        if isinstance(sql_type, Date):
            column = (
                column.cast(pa.string()).cast(pa.date32()) if column.type != pa.date32() else column
            )
        elif isinstance(sql_type, Integer):
            column = column.cast(pa.int64())
        elif isinstance(sql_type, Float):
            column = column.cast(pa.float64())
        elif name.endswith("_id"):
            # An empty SQLite answer has no values to type its columns by.
            column = column.cast(pa.string())
        columns.append(column)
    # Built anew: the drivers' per-field metadata would make range schemas differ.
    return pa.table(columns, names=table.column_names)


def _encoded(table: pa.Table) -> pa.Table:
    """Ids (``*_id`` string columns) as dictionaries: pandas ``category``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, name in enumerate(table.column_names):
        if name.endswith("_id") and table.column(index).type == pa.string():
            table = table.set_column(index, name, pc.dictionary_encode(table.column(index)))
    return table


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(date_as_object=False)
    return frame
