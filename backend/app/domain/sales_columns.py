"""The write API's large sales batches as whole columns: every rule proven at once.

``records.record_historical_sales`` and ``records.record_actual_sales`` hand a large
batch here first. Its rules (``records``: keys, stores and categories exist, units not
negative, weeks in range and on one weekday, each key once) are asked of whole Arrow
columns by compute kernels and of the distinct values, ids are made by the one natural
id definition for columns (``definitions.natural_id_column``), and the rows are staged
and moved as the importer moves a file (``bulk_move``): on SQLite through a scratch file
the Arrow driver writes in C, then one ordered ``INSERT ... SELECT`` that skips the
CHECKs proven here.

The fast path only proves; it never explains. When a rule does not hold, or a value is
of a type Arrow would convert rather than refuse (a float, ``bytes``, a ``datetime``),
it returns None with nothing written and the caller's row-by-row path runs, which
names the problem exactly as it always has. So both paths store the same rows and
raise the same errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from backend.app.domain.arrow_lists import int64_column, string_column
from backend.app.maintenance import bulk_move, definitions
from backend.app.maintenance.definitions import (
    ACTUAL_SALES_KIND,
    HISTORICAL_SALES_KIND,
    natural_id_column,
    weekday_of,
)
from backend.app.models import Category, Store
from backend.app.models.keys import key_rule_holds

# Below this many rows the row-by-row path is done about as soon as pyarrow has loaded
# (~0.2 s the first time in a process; the row path costs 10-40 us a row): small writes
# (a week of actuals) stay as they were. Measured, pyarrow loaded: 2,000 weekly rows
# took 15 ms as columns, 75 ms row by row.
ARROW_MIN_ROWS = 5_000

# The write API's own staging tables (the importer's have other names), moved by the
# importer's own move: one implementation of writing by key.
ACTUALS_STAGE = "ffdb_stage_api_actuals"
ACTUALS_COLUMNS = (
    ("actual_id", "text"),
    ("forecast_id", "text"),
    ("store_id", "text"),
    ("week_number", "int"),
    ("units_sold", "int"),
)
HISTORY_STAGE = "ffdb_stage_api_history"
HISTORY_COLUMNS = (
    ("sale_id", "text"),
    ("week_start_date", "text"),
    ("store_id", "text"),
    ("category_id", "text"),
    ("units_sold", "int"),
)

ACTUALS_LAST_WEEK = 12  # the week CHECK's bound: proven when no week is past it
_INTEGER_MAX = 2**31 - 1


def _typed(values: list[Any], kind: type) -> bool:
    """Every value exactly of ``kind`` (no subclass: a bool is no int, a datetime no date),
    so that Arrow's conversion is exact; one C-speed pass over the column."""
    return set(map(type, values)) == {kind}


def _all_keys(column: Any) -> bool:
    import pyarrow.compute as pc

    return key_rule_holds(pc.unique(column))


def _whole_units(units: Any) -> bool:
    """Units not negative, and within the INTEGER column of both backends (beyond it, the
    row path meets the backend's own answer: SQLite stores it, PostgreSQL refuses it)."""
    import pyarrow.compute as pc

    low, high = (value.as_py() for value in pc.min_max(units).values())
    return bool(low >= 0 and high <= _INTEGER_MAX)


def _no_repeat(ids: Any) -> bool:
    """Each natural key once: ids are a one-to-one function of the key."""
    import pyarrow.compute as pc

    return bool(pc.count_distinct(ids).as_py() == len(ids))


def _stores_exist(session: Session, stores: Any) -> bool:
    import pyarrow.compute as pc

    return _all_found(session, Store.__table__.c.store_id, pc.unique(stores).to_pylist())


def _all_found(session: Session, column: Any, values: list[str]) -> bool:
    """Every one of ``values`` (distinct) is stored in ``column``. Core, not the ORM: a
    process's first ORM statement configures every mapper (~0.07 s)."""
    connection = session.connection()
    found = 0
    for start in range(0, len(values), 1_000):
        chunk = values[start : start + 1_000]
        found += len(connection.execute(select(column).where(column.in_(chunk))).all())
    return found == len(values)


def stage_historical_sales(
    session: Session,
    stores: list[Any],
    categories: list[Any],
    weeks: list[Any],
    units: list[Any],
) -> int | None:
    """Check and move weekly history given as columns; the row count, or None (nothing
    written) when the row-by-row path must run to name a problem."""
    if len(stores) < ARROW_MIN_ROWS or not (
        _typed(stores, str) and _typed(categories, str) and _typed(weeks, date)
    ):
        return None
    if not _typed(units, int):
        return None
    import pyarrow.compute as pc

    days = {day: day.isoformat() for day in set(weeks)}  # a few distinct weeks
    if len({weekday_of(day) for day in days}) != 1:
        return None
    try:
        unit_column = int64_column(units)
        store_column = string_column(stores)
        category_column = string_column(categories)
    except (OverflowError, ValueError):
        return None
    if not (_all_keys(store_column) and _all_keys(category_column)):
        return None
    if not _whole_units(unit_column):
        return None
    week_column = string_column(list(map(days.__getitem__, weeks)))  # ISO text, as stored
    ids = natural_id_column(HISTORICAL_SALES_KIND, store_column, category_column, week_column)
    if not (key_rule_holds(ids) and _no_repeat(ids)):
        return None
    if not (
        _stores_exist(session, store_column)
        and _all_found(
            session, Category.__table__.c.category_id, pc.unique(category_column).to_pylist()
        )
    ):
        return None
    columns = [ids, week_column, store_column, category_column, unit_column]
    # A savepoint: a database error, or a stored series on another weekday, takes the
    # whole call back.
    with session.begin_nested() as savepoint:
        session.flush()
        connection = session.connection()
        staging = _stage(connection, HISTORY_STAGE, HISTORY_COLUMNS, columns)
        if _other_weekday_stored(connection, staging, weekday_of(weeks[0])):
            savepoint.rollback()
            return None
        bulk_move.upsert(
            connection,
            staging,
            bulk_move.HISTORICAL_SALES_MOVE,
            len(ids),
            checked=bulk_move.HISTORICAL_SALES_PROVEN,
            parents_found=("store_id", "category_id"),
        )
        bulk_move.drop_staging(connection, HISTORY_STAGE)
    return len(ids)


def _other_weekday_stored(
    connection: Connection, staging: str, weekday: definitions.Weekday
) -> bool:
    """Whether a staged (store, category) series already holds weeks on another weekday
    (the row-by-row path names it)."""
    if not connection.execute(text("SELECT EXISTS (SELECT 1 FROM historical_sales)")).scalar():
        return False
    pairs = f"(SELECT DISTINCT store_id, category_id FROM {staging})"  # noqa: S608
    other = definitions.other_weekday_series_sql(connection.dialect.name, pairs, weekday)
    return bool(connection.execute(text(f"SELECT EXISTS ({other})")).scalar())


def stage_actual_sales(
    session: Session,
    forecast_id: str,
    horizon_weeks: int,
    stores: list[Any],
    weeks: list[Any],
    units: list[Any],
) -> int | None:
    """Check and move a forecast's actual sales given as columns (the forecast checked by
    the caller); the row count, or None (nothing written) when the row-by-row path must
    run to name a problem."""
    if len(stores) < ARROW_MIN_ROWS or not (
        _typed(stores, str) and _typed(weeks, int) and _typed(units, int)
    ):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        week_column = int64_column(weeks)
        unit_column = int64_column(units)
        store_column = string_column(stores)
    except (OverflowError, ValueError):
        return None
    if not (_all_keys(store_column) and _whole_units(unit_column)):
        return None
    first, last = (value.as_py() for value in pc.min_max(week_column).values())
    if not 1 <= first <= last <= horizon_weeks:
        return None
    forecasts = definitions.text_column(forecast_id, store_column)
    ids = natural_id_column(
        ACTUAL_SALES_KIND, forecasts, store_column, pc.cast(week_column, pa.string())
    )
    if not (key_rule_holds(ids) and _no_repeat(ids) and _stores_exist(session, store_column)):
        return None
    checked = bulk_move.ACTUAL_SALES_PROVEN
    if last > ACTUALS_LAST_WEEK:  # the table's CHECK refuses these rows on the insert
        checked = checked - {bulk_move.ACTUAL_SALES_WEEK_CHECK}
    columns = [ids, forecasts, store_column, week_column, unit_column]
    with session.begin_nested():  # a database error takes the whole call back
        session.flush()
        connection = session.connection()
        staging = _stage(connection, ACTUALS_STAGE, ACTUALS_COLUMNS, columns)
        none_stored = not bulk_move.actuals_stored(connection, forecast_id)
        bulk_move.upsert(
            connection,
            staging,
            bulk_move.ACTUAL_SALES_MOVE,
            len(ids),
            checked=checked,
            parents_found=("store_id", "forecast_id"),
            none_stored=none_stored,
        )
        bulk_move.drop_staging(connection, ACTUALS_STAGE)
    return len(ids)


def _stage(
    connection: Connection, table: str, columns: bulk_move.Columns, arrays: Sequence[Any]
) -> str:
    """Stage the arrays; the name to select the staged rows from.

    On SQLite the Arrow driver writes them into a scratch file attached to the session's
    connection, detached once its transaction has ended (the caller commits or rolls
    back; SQLite cannot detach inside a transaction). A second call in the same
    transaction finds the file's name taken and binds its rows into a TEMP table."""
    if connection.dialect.name == "sqlite" and bulk_move.staging_schema(connection, table) == (
        "temp"
    ):
        bulk_move.load_staging_file(connection, table, columns, [arrays])
        bulk_move.detach_staging_files_when_returned(connection)
        return table + bulk_move.STAGED_FILE_SUFFIX + "." + table
    bulk_move.create_staging(connection, table, columns)
    bulk_move.load_staging_batches(connection, table, columns, [arrays])
    return table
