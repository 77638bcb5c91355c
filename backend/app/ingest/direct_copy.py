"""PostgreSQL: a plain weekly history file, binary COPY straight into ``historical_sales``.

The staged route (COPY into a TEMP table, then ``INSERT ... SELECT``) writes every row
twice and inserts it tuple by tuple; the server's own loader (``COPY`` into the table)
does neither. So when nothing in the file needs the staged route, its rows go straight
in: read and checked as Arrow columns (``columns``), ids from
``definitions.natural_id_column``, then one binary COPY through the Arrow connection
(``database/arrow.py``), in one transaction.

The table's own constraints decide what the staged route's checks would: an unknown
store or category is a foreign-key violation, a key already stored or given twice a
unique violation. Any of them, a file that is not plain, or a stored (store,
category) series whose weeks start on another weekday rolls the transaction back and
returns None: the caller then imports the file by the staged route, which upserts
stored keys, names every problem by its line, and applies ``--replace``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine

from backend.app.database.arrow import arrow_transaction
from backend.app.ingest import columns
from backend.app.ingest.formats import Layout
from backend.app.ingest.reader import CsvFile
from backend.app.maintenance.definitions import (
    Weekday,
    other_weekday_series_sql,
)

PAIRS = "ffdb_copy_pairs"


class _Declined(Exception):
    """The staged route must import this file."""


class _DryRun(Exception):
    """A dry run that went through: its row count, the transaction rolled back."""

    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.rows = rows


def copy_plain_history(
    engine: Engine,
    csv_file: CsvFile,
    layout: Layout,
    week_starts: Weekday | None,
    *,
    dry_run: bool,
) -> int | None:
    """Rows COPYed straight into ``historical_sales`` (committed unless ``dry_run``), or
    None, with the database unchanged, when the staged route must import the file."""
    if engine.dialect.name != "postgresql" or columns.row_by_row_reason(csv_file) is not None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = pa.schema(
        [
            ("sale_id", pa.string()),
            ("store_id", pa.string()),
            ("category_id", pa.string()),
            ("week_start_date", pa.date32()),
            ("units_sold", pa.int32()),
        ]
    )
    history = columns.PlainWeeklyHistory(csv_file, layout, week_starts)
    pairs: set[tuple[str, str]] = set()
    copied = 0

    def checked() -> Iterator[Any]:
        nonlocal copied
        for block in history:
            stores, categories = block.stores, block.categories
            # Plain ids hold no control character: \x1f cannot occur inside one.
            both = pc.binary_join_element_wise(stores, categories, "\x1f")
            pairs.update(tuple(pair.split("\x1f", 1)) for pair in pc.unique(both).to_pylist())
            copied += block.batch.rows
            yield pa.RecordBatch.from_arrays(
                [
                    block.sale_ids,
                    stores,
                    categories,
                    pc.cast(block.weeks, pa.date32()),
                    pc.cast(block.units, pa.int32()),
                ],
                schema=schema,
            )

    try:
        with arrow_transaction(engine.url) as connection:
            cursor = connection.cursor()
            try:
                reader = pa.RecordBatchReader.from_batches(schema, checked())
                cursor.adbc_ingest("historical_sales", reader, mode="append")
                if not copied:
                    raise _Declined  # header only: the staged route says so
                if _other_weekdays(cursor, pairs, history.weekday):
                    raise _Declined
                if dry_run:
                    raise _DryRun(copied)
            finally:
                cursor.close()
    except _DryRun as done:
        return done.rows
    except Exception:
        # Not plain, or refused by a constraint (connection errors surface again on
        # the staged route, with its one-line reasons).
        return None
    return copied


def _other_weekdays(cursor: Any, pairs: set[tuple[str, str]], weekday: Weekday | None) -> bool:
    """Whether a (store, category) series of the file also holds weeks starting on
    another weekday: stored before, since every row the file added starts on
    ``weekday``."""
    import pyarrow as pa

    if weekday is None or not pairs:
        return False
    stores, categories = zip(*sorted(pairs), strict=True)
    table = pa.table({"store_id": list(stores), "category_id": list(categories)})
    cursor.adbc_ingest(PAIRS, table, mode="replace", temporary=True)
    series = other_weekday_series_sql("postgresql", PAIRS, weekday, including_new_rows=True)
    cursor.execute(f"SELECT EXISTS ({series})")
    other = bool(cursor.fetchone()[0])
    cursor.execute(f"DROP TABLE IF EXISTS {PAIRS}")
    return other
