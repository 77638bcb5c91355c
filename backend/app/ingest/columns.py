"""Reading a plain export as Arrow columns: the fast path of the weekly importers.

pyarrow's CSV reader parses the file one block at a time (memory stays flat at any
size) and pyarrow.compute checks whole columns at once, so no Python code runs per
row. It decides only what is unambiguous: one record per physical line (quotes are
not special, a newline always ends a record), ids whose first and last characters are
letters, digits or ``_`` (nothing to strip or unescape), whole numbers of at most nine
ASCII digits, ISO dates. Anything else (a quoted field, an empty line, another
spelling, a wrong field count, bytes that are not UTF-8, an over-long line) raises
``NotPlain``, and the importer reads the file row by row instead: that path keeps
every rule and names every problem by FILE:LINE:COLUMN. So both paths store the same
rows for every file, and the fast one never reports a problem itself.

pyarrow is imported inside the functions: commands that never import pay nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.app.ingest.formats import Layout
from backend.app.ingest.reader import CsvFile
from backend.app.maintenance.definitions import (
    HISTORICAL_SALES_KIND,
    Weekday,
    natural_id_column,
    weekday_of,
)
from backend.app.models.keys import key_rule_holds

BLOCK_BYTES = 1 << 20  # one batch: ~35,000 weekly rows; memory holds about one
# Below this size the row reader is done before pyarrow would have loaded (~0.1 s):
# a weekly actuals file of a few hundred stores stays as quick as ``ffdb current``.
# ``FFDB_ARROW_MIN_BYTES=0`` sends every file this way (to run a test suite through it).
ARROW_MIN_BYTES = 1 << 20
# First and last characters a letter, digit or '_', no control character anywhere.
PLAIN_ID = r"^[\p{L}\p{N}_]([^\x00-\x1f\x7f]*[\p{L}\p{N}_])?$"
SMALL_WHOLE_NUMBER = r"^[0-9]{1,9}$"  # below INTEGER's 2**31 - 1 on both backends
ISO_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class NotPlain(Exception):
    """The file holds something the fast path leaves to the row-by-row reader."""


@dataclass(frozen=True)
class Batch:
    """One block of rows: the line of its first row and its columns, by name."""

    first_line: int
    columns: dict[str, Any]  # name -> pyarrow string array

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values())))

    def lines(self) -> Any:
        """The rows' line numbers (int64), from numpy's buffer: converting a Python
        ``range`` would make pyarrow import pandas (~40 MB resident)."""
        import numpy as np
        import pyarrow as pa

        numbers = np.arange(self.first_line, self.first_line + self.rows, dtype=np.int64)
        return pa.Array.from_buffers(pa.int64(), self.rows, [None, pa.py_buffer(numbers)])


def row_by_row_reason(csv_file: CsvFile) -> str | None:
    """Why ``csv_file`` goes row by row whatever it holds, or None to try this route.
    Asked before pyarrow is imported, so a small file never pays for loading it."""
    if csv_file.size < int(os.environ.get("FFDB_ARROW_MIN_BYTES") or ARROW_MIN_BYTES):
        return "a small file"
    if csv_file.path is None:
        return "not a CSV file on disk (a stream or Parquet)"
    if csv_file.header_line != 1:
        return "a header over several lines"
    return None


def batches(
    csv_file: CsvFile,
    layout: Layout,
    names: tuple[str, ...],
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[Batch]:
    """The file's data rows as string columns ``names``, block by block (of about
    ``block_bytes`` of the file); calls the file's progress callback as it goes and sets
    ``csv_file.rows_read``.

    Blocks are cut at the last newline of each read and parsed one at a time, so memory
    holds one block (pyarrow's streaming reader reads ahead of a slow consumer)."""
    reason = row_by_row_reason(csv_file)
    if reason is not None or csv_file.path is None:  # (no path is one of the reasons)
        raise NotPlain(reason or "not a file on disk")
    import pyarrow as pa
    import pyarrow.csv as pv

    generated = [f"f{index}" for index in range(layout.width)]
    wanted = {name: generated[layout.positions[name]] for name in names}
    read_options = pv.ReadOptions(column_names=generated, use_threads=False)
    parse_options = pv.ParseOptions(
        quote_char=False, newlines_in_values=False, ignore_empty_lines=False
    )
    convert_options = pv.ConvertOptions(
        column_types=dict.fromkeys(wanted.values(), pa.string()),
        include_columns=list(wanted.values()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    count = 0
    progress = csv_file.progress
    with open(csv_file.path, "rb") as stream:
        stream.readline()  # the header, already read by the caller
        rest = b""
        while True:
            block = stream.read(block_bytes)
            data = rest + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            data, rest = data[:cut], data[cut:]
            if len(rest) > block_bytes:
                raise NotPlain("a line longer than a block")
            if data:
                try:
                    table = pv.read_csv(
                        pa.BufferReader(data),
                        read_options=read_options,
                        parse_options=parse_options,
                        convert_options=convert_options,
                    )
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise NotPlain(
                        str(error).splitlines()[0] if str(error) else "unreadable"
                    ) from None
                if table.num_rows:
                    columns = {name: table.column(wanted[name]).combine_chunks() for name in names}
                    yield Batch(first_line=2 + count, columns=columns)
                    count += table.num_rows
                    if progress is not None:
                        progress(count, stream.tell())
            if not block:
                break
    csv_file.rows_read = count
    if progress is not None:
        progress(count, csv_file.size)


def _all(mask: Any) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(mask).as_py())


def plain_ids(column: Any, distinct: DistinctValues | None = None) -> Any:
    """``column`` as it is, if every value is a plain id; else ``NotPlain``.
    ``distinct`` receives the column's distinct values."""
    import pyarrow.compute as pc

    # Asked of the distinct values: an id column repeats few of them.
    values = pc.unique(column)
    if not _all(pc.match_substring_regex(values, PLAIN_ID)):
        raise NotPlain("an id that needs cleaning")
    if not key_rule_holds(values):
        raise NotPlain("an over-long id")
    if distinct is not None:
        distinct.add(values)
    return column


class DistinctValues:
    """The distinct values of a column over a whole file, gathered block by block.

    Each block's distinct values wait until they add up to ``MERGE_VALUES`` (and to
    twice those kept) before one ``unique`` merges them in: merging every block would
    hash the values kept so far once per block. Memory holds the distinct values and
    at most that many more."""

    MERGE_VALUES = 1 << 20

    def __init__(self) -> None:
        self._kept: list[Any] = []  # one array of distinct values, once merged
        self._waiting: list[Any] = []
        self._waiting_count = 0

    def add(self, values: Any) -> None:
        self._waiting.append(values)
        self._waiting_count += len(values)
        kept = len(self._kept[0]) if self._kept else 0
        if self._waiting_count > max(self.MERGE_VALUES, 2 * kept):
            self._merge()

    def _merge(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if self._waiting:
            self._kept = [pc.unique(pa.concat_arrays([*self._kept, *self._waiting]))]
            self._waiting, self._waiting_count = [], 0

    def values(self) -> set[str]:
        self._merge()
        return set(self._kept[0].to_pylist()) if self._kept else set()


def small_whole_numbers(column: Any) -> Any:
    """``column`` as int64, if every value is at most nine ASCII digits; else ``NotPlain``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _all(pc.match_substring_regex(pc.unique(column), SMALL_WHOLE_NUMBER)):
        raise NotPlain("a number in another spelling")
    return pc.cast(column, pa.int64())


def iso_days(column: Any) -> dict[str, date]:
    """The distinct dates of ``column``, if every value is an ISO date; else ``NotPlain``."""
    import pyarrow.compute as pc

    values = pc.unique(column)
    if not _all(pc.match_substring_regex(values, ISO_DAY)):
        raise NotPlain("a date in another spelling")
    days = {}
    for text in values.to_pylist():
        try:
            days[text] = date.fromisoformat(text)
        except ValueError:
            raise NotPlain("an impossible date") from None
    return days


HISTORY_COLUMNS = ("week_start_date", "store_id", "category_id", "units_sold")


@dataclass(frozen=True)
class HistoryBatch:
    """One block of a plain weekly history file, checked: ids made by the one natural
    id definition, weeks as ISO text, units as int64."""

    batch: Batch
    sale_ids: Any
    weeks: Any
    stores: Any
    categories: Any
    units: Any


class PlainWeeklyHistory:
    """A plain weekly history file's blocks, each checked a whole column at a time:
    every row passes the CHECKs of ``historical_sales`` (``bulk_move.HISTORICAL_SALES_PROVEN``).

    ``weekday`` is the weekday every week starts on: the one given, else the first
    row's; a week starting on another day raises ``NotPlain`` (the row-by-row reader
    then names it). Read ``weekday`` after the first block to learn the file's."""

    def __init__(
        self,
        csv_file: CsvFile,
        layout: Layout,
        weekday: Weekday | None,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        self._csv_file = csv_file
        self._layout = layout
        self._block_bytes = block_bytes
        self.weekday = weekday

    def __iter__(self) -> Iterator[HistoryBatch]:
        for batch in batches(self._csv_file, self._layout, HISTORY_COLUMNS, self._block_bytes):
            weeks = batch.columns["week_start_date"]
            for day in iso_days(weeks).values():
                if self.weekday is None:
                    self.weekday = weekday_of(day)
                elif weekday_of(day) != self.weekday:
                    raise NotPlain("weeks starting on another weekday")
            stores = plain_ids(batch.columns["store_id"])
            categories = plain_ids(batch.columns["category_id"])
            units = small_whole_numbers(batch.columns["units_sold"])
            ids = natural_id_column(HISTORICAL_SALES_KIND, stores, categories, weeks)
            if not key_rule_holds(ids):  # never, for natural ids: said, not assumed
                raise NotPlain("an id the key rule refuses")
            yield HistoryBatch(batch, ids, weeks, stores, categories, units)
