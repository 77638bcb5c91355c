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

Time goes to the server (heap, five indexes, two foreign-key checks a row), so the
client keeps out of its way: a thread reads and checks the next block while the driver
COPYs this one (pyarrow and the driver release the GIL), blocks are large and each is
sent in primary-key order (the B-tree inserts then walk each index once per block
instead of once per week of the file), and the checks that can be answered before
copying are: a sample of the first block's keys already stored (a re-import) declines
at once, and when every stored week starts on the file's weekday (a few index probes)
the series check after the COPY is not needed. Into an empty table the foreign keys
are set aside for the COPY and added back after it, one join instead of a lookup per
row (``bulk_move.foreign_keys_set_aside``).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine

from backend.app.database.arrow import BulkConnection, arrow_transaction
from backend.app.ingest import columns
from backend.app.ingest.formats import Layout
from backend.app.ingest.reader import CsvFile
from backend.app.maintenance.bulk_move import foreign_keys_set_aside
from backend.app.maintenance.definitions import (
    Weekday,
    other_weekday_series_sql,
    text_column,
    weekday_sql,
)

PAIRS = "ffdb_copy_pairs"
SAMPLE = "ffdb_copy_sample"
# About 35,000 weekly rows a block: each index is walked once per block. Two blocks are
# alive (this one and the next): 2 MB blocks held ~20 MB more at the peak, which took a
# 10,000,000-row import to 201 MB from a fresh install, for 15% more speed; 4 MB blocks
# measured no faster than 2 MB and held 50 MB more.
BLOCK_BYTES = 1 << 20
KEY_SAMPLE = 256  # keys of the first block asked for before copying
PAIR_BLOCKS = 32  # blocks' distinct pairs gathered before they are merged
PAIR_SEPARATOR = "\x1f"  # plain ids hold no control character: it cannot occur in one

_T = TypeVar("_T")


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
    history = columns.PlainWeeklyHistory(csv_file, layout, week_starts, BLOCK_BYTES)
    # Each block's distinct (store, category) pairs, kept as Arrow arrays: sent to the
    # server only if the stored weeks leave the series check to be made.
    pairs: list[Any] = []
    copied = 0

    def checked() -> Iterator[Any]:
        nonlocal copied
        for block in history:
            stores, categories = block.stores, block.categories
            separator = text_column(PAIR_SEPARATOR, stores)  # an Arrow value, not Python's
            pairs.append(pc.unique(pc.binary_join_element_wise(stores, categories, separator)))
            if len(pairs) >= PAIR_BLOCKS:  # kept small: a long file repeats its series
                pairs[:] = [_distinct_pairs(pairs)]
            copied += block.batch.rows
            batch = pa.RecordBatch.from_arrays(
                [
                    block.sale_ids,
                    stores,
                    categories,
                    pc.cast(block.weeks, pa.date32()),
                    pc.cast(block.units, pa.int32()),
                ],
                schema=schema,
            )
            yield batch.take(pc.sort_indices(block.sale_ids))

    blocks = _ReadAhead(checked())  # reading starts while the connection opens
    try:
        with arrow_transaction(engine.url) as connection:
            first = next(blocks, None)
            if first is None:
                raise _Declined  # header only: the staged route says so
            if _keys_stored(connection, first.column(0)):
                raise _Declined  # a re-import: the staged route upserts
            weekday = history.weekday
            mixed = _stored_weeks_on_other_days(connection, weekday)
            reader = pa.RecordBatchReader.from_batches(schema, chain([first], blocks))
            with foreign_keys_set_aside(connection.execute, "historical_sales"):
                connection.ingest("historical_sales", reader)
            if mixed and _other_weekdays(connection, pairs, weekday):
                raise _Declined
            if dry_run:
                raise _DryRun(copied)
    except _DryRun as done:
        return done.rows
    except Exception:
        # Not plain, or refused by a constraint (connection errors surface again on
        # the staged route, with its one-line reasons).
        return None
    finally:
        blocks.close()
    return copied


class _ReadAhead(Generic[_T]):
    """``items`` (never None), each computed in a thread while the caller works on the
    one before; the first is started at once. An exception raised computing one is
    raised by ``next``, in its turn."""

    def __init__(self, items: Iterator[_T]) -> None:
        self._items = items
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ffdb-read")
        self._pending = self._pool.submit(next, items, None)

    def __iter__(self) -> _ReadAhead[_T]:
        return self

    def __next__(self) -> _T:
        item = self._pending.result()
        if item is None:
            raise StopIteration
        self._pending = self._pool.submit(next, self._items, None)
        return item

    def close(self) -> None:
        """Stop: let the item being computed finish, then close ``items`` (the reader
        and its file)."""
        self._pending.exception()
        self._pool.shutdown()
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


def _keys_stored(connection: BulkConnection, sale_ids: Any) -> bool:
    """Whether a sample of ``sale_ids`` (evenly spread) is already in the table: a
    re-import, which the COPY would refuse only after sending every row."""
    import pyarrow as pa

    step = max(1, len(sale_ids) // KEY_SAMPLE)
    # Slices of the Arrow array, not Python values (see BulkConnection.execute).
    sample = pa.concat_arrays([sale_ids.slice(i, 1) for i in range(0, len(sale_ids), step)])
    connection.ingest(
        SAMPLE, pa.RecordBatch.from_arrays([sample], names=["sale_id"]), mode="replace",
        temporary=True,
    )  # fmt: skip
    (stored,) = connection.execute(
        f"SELECT EXISTS (SELECT 1 FROM {SAMPLE} s JOIN historical_sales h USING (sale_id))"  # noqa: S608
    )
    connection.execute(f"DROP TABLE {SAMPLE}")
    return bool(stored[0])


def _stored_weeks_on_other_days(connection: BulkConnection, weekday: Weekday | None) -> bool:
    """Whether any stored week starts on a day other than ``weekday``. Asked of the
    distinct stored weeks, found by walking the week index (one probe per week), so it
    costs the same at any number of rows; only if so is each series of the file checked
    after the COPY (``_other_weekdays``)."""
    if weekday is None:
        return False
    on = weekday_sql("postgresql", "day")  # fixed SQL text
    (other,) = connection.execute(
        "WITH RECURSIVE weeks(day) AS ("  # noqa: S608
        "(SELECT min(week_start_date) FROM historical_sales) UNION ALL "
        "SELECT (SELECT min(h.week_start_date) FROM historical_sales h "
        "WHERE h.week_start_date > weeks.day) FROM weeks WHERE weeks.day IS NOT NULL) "
        # The weekday is our own IntEnum, written as a number.
        f"SELECT EXISTS (SELECT 1 FROM weeks WHERE day IS NOT NULL AND {on} <> {int(weekday)})"
    )
    return bool(other[0])


def _distinct_pairs(arrays: list[Any]) -> Any:
    """The distinct joined (store, category) pairs of ``arrays``, as one Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.unique(pa.concat_arrays(arrays))


def _other_weekdays(connection: BulkConnection, pairs: list[Any], weekday: Weekday | None) -> bool:
    """Whether a (store, category) series of the file (``pairs``: joined by \\x1f) also
    holds weeks starting on another weekday: stored before, since every row the file
    added starts on ``weekday``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if weekday is None or not pairs:
        return False
    parts = pc.split_pattern(_distinct_pairs(pairs), PAIR_SEPARATOR, max_splits=1)
    # Slices by options, not by index values (see BulkConnection.execute).
    stores, categories = (pc.list_flatten(pc.list_slice(parts, i, i + 1)) for i in (0, 1))
    table = pa.RecordBatch.from_arrays([stores, categories], names=["store_id", "category_id"])
    connection.ingest(PAIRS, table, mode="replace", temporary=True)
    series = other_weekday_series_sql("postgresql", PAIRS, weekday, including_new_rows=True)
    (other,) = connection.execute(f"SELECT EXISTS ({series})")
    connection.execute(f"DROP TABLE IF EXISTS {PAIRS}")
    return bool(other[0])
