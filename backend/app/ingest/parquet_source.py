"""Reading a Parquet file for an import: the same rows, validation and problems as CSV.

A Parquet file's columns are recognised by name, like a CSV header, and each record
batch is turned into the text a CSV export of the same values would hold (dates as
ISO dates, whole numbers without ``.0``, text escaped as ``export`` escapes it, nulls
empty), whole columns at a time in Arrow. The rows then go through the importer's own
per-field validation and set-based checks, so a Parquet file is refused, row by row,
for exactly what the same CSV would be. Problems name rows by their number in the
file (1 = the first row); a missing or unexpected column is reported at 1.

A datetime column whose values all fall on midnight (what pandas writes for dates)
reads as dates; any other time of day is shown as it is, and refused where a date is
expected. pyarrow is imported here, on first use.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from backend.app.ingest.problems import ImportRejected, ProblemLog
from backend.app.ingest.reader import CsvFile, ProgressCallback

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from backend.app.ingest.source import ImportSource

PARQUET_MAGIC = b"PAR1"
PARQUET_SUFFIXES = (".parquet", ".pq")
BATCH_ROWS = 65_536
# Text that export writes with a leading ' (normalize.neutralize): formula triggers and '.
_ESCAPED_START = r"^([=+\-@\t\r'])"


def is_parquet(source: ImportSource) -> bool:
    """Whether the source is Parquet: by its name's suffix, or its first four bytes."""
    if source.name.lower().endswith(PARQUET_SUFFIXES):
        return True
    if source.path is not None:
        if not source.path.is_file():  # a pipe cannot be read twice: never look ahead
            return False
        try:
            with open(source.path, "rb") as handle:
                return handle.read(4) == PARQUET_MAGIC
        except OSError:
            return False
    stream = source.stream
    if stream is None or not stream.seekable():
        return False
    start = stream.tell()
    try:
        return stream.read(4) == PARQUET_MAGIC
    finally:
        stream.seek(start)


class _ParquetRows(Iterator[list[str]]):
    """A Parquet file's rows as CSV text fields; ``line_num`` is the last row's number."""

    def __init__(self, parquet: pq.ParquetFile, size: int, log: ProblemLog) -> None:
        self.line_num = 0
        self.position = 0
        self._log = log
        self._batches = parquet.iter_batches(batch_size=BATCH_ROWS)
        self._rows: Iterator[list[str]] = iter(())
        rows = parquet.metadata.num_rows if parquet.metadata is not None else 0
        self._bytes_per_row = size / rows if rows else 0.0

    def __iter__(self) -> _ParquetRows:
        return self

    def __next__(self) -> list[str]:
        import pyarrow as pa

        row = next(self._rows, None)
        while row is None:
            try:
                batch = next(self._batches)  # StopIteration ends the rows
                columns = [as_text(column).to_pylist() for column in batch.columns]
            except pa.ArrowException as error:  # a damaged page, say
                self._log.add(self.line_num + 1, "file", f"unreadable Parquet data: {error}")
                raise ImportRejected(self._log) from None
            self._rows = map(list, zip(*columns, strict=True))
            row = next(self._rows, None)
        self.line_num += 1
        self.position = int(self.line_num * self._bytes_per_row)
        return row


def as_text(column: pa.Array[Any]) -> pa.Array[Any]:
    """A column as the text a CSV export of its values holds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_timestamp(kind):
        column = _midnights_as_dates(column)
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        column = pc.replace_substring_regex(column, pattern=_ESCAPED_START, replacement=r"'\1")
    elif pa.types.is_boolean(kind):
        column = pc.if_else(column, pa.scalar("True"), pa.scalar("False"))
    else:
        try:
            column = column.cast(pa.string())
        except pa.ArrowNotImplementedError:  # lists, structs: their Python text
            texts = [None if value is None else str(value) for value in column.to_pylist()]
            column = pa.array(texts, pa.string())
    return column.cast(pa.string()).fill_null("")


def _midnights_as_dates(column: pa.Array[Any]) -> pa.Array[Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    days = column.cast(pa.date32(), safe=False)
    back = days.cast(column.type)
    if pc.all(pc.equal(back, column)).as_py() is not False:
        return days
    return column


def open_parquet(
    source: ImportSource, progress: ProgressCallback | None, log: ProblemLog
) -> CsvFile:
    """The Parquet file's column names (as the header) and rows; a file that is not
    readable Parquet is refused as a problem naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target: Any = source.path
    if target is None:
        stream = source.stream
        assert stream is not None
        # Parquet keeps its schema at the end: a pipe is read whole first.
        target = stream if stream.seekable() else io.BytesIO(stream.read())
    try:
        parquet = pq.ParquetFile(target)
    except (pa.ArrowException, OSError) as error:
        log.add(1, "file", f"not a readable Parquet file: {error}")
        raise ImportRejected(log) from None
    rows = _ParquetRows(parquet, source.size, log)
    return CsvFile(
        name=source.name,
        header=list(parquet.schema_arrow.names),
        reader=rows,
        close=parquet.close,
        header_line=0,
        size=source.size,
        progress=progress,
        log=log,
        position=lambda: rows.position,
    )
