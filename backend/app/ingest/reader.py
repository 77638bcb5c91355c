"""Reading a CSV export: header, rows with their line numbers, BOM, encoding, delimiter.

The fast path is the C ``csv`` reader over a UTF-8 text stream (``utf-8-sig`` drops an
Excel byte-order mark). Bytes that are not UTF-8 stop that stream; only then is the
file scanned again, line by line in binary, to name every offending line and column.

A binary stream (an upload, standard input) cannot be read twice, so it is decoded
line by line: the first line that is not UTF-8 stops the import, and the rest of the
stream is scanned for the others (``stream_lines``). The caller keeps the stream open.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from backend.app.ingest.problems import ProblemLog

# Delimiters a spreadsheet may have used instead of the comma.
OTHER_DELIMITERS = (";", "\t", "|")
ProgressCallback = Callable[[int, int], None]
PROGRESS_EVERY = 50_000


class EncodingProblem(Exception):
    """The file is not UTF-8; ``log`` names the lines."""

    def __init__(self, log: ProblemLog) -> None:
        super().__init__(f"{log.path}: not UTF-8")
        self.log = log


@dataclass
class CsvFile:
    """An open export: its header and, once iterated, its data rows with line numbers."""

    name: str
    header: list[str]
    # Rows of fields; its ``line_num`` is the number of the last line read (csv.reader's;
    # a Parquet reader counts rows).
    reader: Iterator[list[str]]
    close: Callable[[], None]
    # Names every line that is not UTF-8 (a file is read again to find them).
    locate_encoding_errors: Callable[[], ProblemLog]
    header_line: int = 1
    size: int = 0
    progress: ProgressCallback | None = None
    # Where rows that no backend can store are reported (a NUL character: PostgreSQL
    # text cannot hold one). Such rows are not yielded.
    log: ProblemLog | None = None
    # Bytes read so far, for the progress bar (0 when unknown).
    position: Callable[[], int] = lambda: 0
    # The file on disk, when it is one (a fast reader may open it again); None for a
    # stream or a Parquet file.
    path: Path | None = None
    rows_read: int = field(default=0, init=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of each non-blank record; the line is where it starts."""
        reader = self.reader
        previous = self.header_line
        progress = self.progress
        count = 0
        try:
            for fields in reader:
                start = previous + 1
                previous = reader.line_num  # type: ignore[attr-defined]
                if not fields:
                    continue
                count += 1
                if progress is not None and not count % PROGRESS_EVERY:
                    progress(count, self.position())
                # One C-level scan per row; the field-by-field search runs only on a hit.
                if "\x00" in "".join(fields):
                    self._report_nul(start, fields)
                    continue
                yield start, fields
        except UnicodeDecodeError:
            raise EncodingProblem(self.locate_encoding_errors()) from None
        finally:
            self.rows_read = count
            if progress is not None:
                progress(count, self.size)

    def _report_nul(self, line: int, fields: list[str]) -> None:
        if self.log is None:
            raise ValueError(f"{self.name}:{line}: a field contains a NUL character")
        for index, value in enumerate(fields):
            if "\x00" in value:
                column = self.header[index] if index < len(self.header) else f"field {index + 1}"
                self.log.add(line, column, "contains a NUL character", value.replace("\x00", "\\0"))


def open_csv(
    path: Path, progress: ProgressCallback | None = None, log: ProblemLog | None = None
) -> CsvFile:
    """Open ``path`` and read its header; raises ``EncodingProblem`` for non-UTF-8 bytes."""
    stream = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed by CsvFile)

    def position() -> int:
        try:
            return int(stream.buffer.tell())  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return 0

    return _with_header(
        CsvFile(
            name=str(path),
            header=[],
            reader=csv.reader(stream),
            close=stream.close,
            locate_encoding_errors=lambda: locate_encoding_errors(path),
            size=os.path.getsize(path),
            progress=progress,
            log=log,
            position=position,
            path=path,
        )
    )


def open_csv_stream(
    binary: BinaryIO,
    name: str,
    progress: ProgressCallback | None = None,
    log: ProblemLog | None = None,
    size: int = 0,
) -> CsvFile:
    """Read CSV from an open binary stream (left open), naming it ``name`` in problems."""
    counted = _CountingLines(binary)
    return _with_header(
        CsvFile(
            name=name,
            header=[],
            reader=csv.reader(stream_lines(counted, name)),
            close=lambda: None,
            # stream_lines reports encoding errors itself: nothing to read again.
            locate_encoding_errors=lambda: ProblemLog(name),
            size=size,
            progress=progress,
            log=log,
            position=lambda: counted.position,
        )
    )


def _with_header(csv_file: CsvFile) -> CsvFile:
    try:
        csv_file.header = next(csv_file.reader, [])
    except UnicodeDecodeError:
        csv_file.close()
        raise EncodingProblem(csv_file.locate_encoding_errors()) from None
    except BaseException:
        csv_file.close()
        raise
    csv_file.header_line = csv_file.reader.line_num  # type: ignore[attr-defined]
    return csv_file


class _CountingLines:
    """The lines of a binary stream, split as a text file opened with ``newline=""``
    splits them (at ``\n``, ``\r\n`` or a lone ``\r``, kept at the end of the line),
    read in chunks, counting the bytes read."""

    CHUNK = 1 << 16

    def __init__(self, binary: BinaryIO) -> None:
        self.binary = binary
        self.position = 0

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        while chunk := self.binary.read(self.CHUNK):
            self.position += len(chunk)
            lines = (pending + chunk).splitlines(keepends=True)
            # The last piece may go on in the next chunk (a '\r' may be half of '\r\n').
            pending = lines.pop()
            if pending.endswith(b"\n"):
                lines.append(pending)
                pending = b""
            yield from lines
        if pending:
            yield pending


_BOM = b"\xef\xbb\xbf"


def stream_lines(lines: Iterable[bytes], name: str) -> Iterator[str]:
    """The lines of a binary stream as text, for ``csv.reader``. A line that is not
    UTF-8 ends the reading: the rest is scanned and every such line is raised at once
    as an ``EncodingProblem``."""
    scan = _EncodingScan(ProblemLog(name))
    numbered = enumerate(lines, start=1)
    for number, raw in numbered:
        if number == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            scan.line(number, raw)
            for later, rest in numbered:
                scan.line(later, rest)
            raise EncodingProblem(scan.log) from None
        if number == 1:
            scan.header = next(csv.reader([text]), [])
        yield text


def locate_encoding_errors(path: Path) -> ProblemLog:
    """Every line holding bytes that are not UTF-8, with the column they fall in."""
    scan = _EncodingScan(ProblemLog(str(path)))
    with open(path, "rb") as binary:
        for number, raw in enumerate(binary, start=1):
            scan.line(number, raw[3:] if number == 1 and raw.startswith(_BOM) else raw)
    return scan.log


class _EncodingScan:
    """Reports the lines that are not UTF-8, naming the column of the first bad bytes."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log
        self.header: list[str] = []

    def line(self, number: int, chunk: bytes) -> None:
        text = chunk.decode("utf-8", errors="surrogateescape")
        fields = next(csv.reader([text]), [])
        if number == 1:
            self.header = fields
        try:
            chunk.decode("utf-8")
            return
        except UnicodeDecodeError as error:
            bad = chunk[error.start : error.end]
        header = self.header
        for index, value in enumerate(fields):
            if any("\udc80" <= ch <= "\udcff" for ch in value):
                column = header[index] if index < len(header) and number > 1 else "header"
                shown = value.encode("utf-8", errors="surrogateescape").decode(
                    "utf-8", errors="backslashreplace"
                )
                self.log.add(number, column, f"bytes that are not UTF-8 ({bad!r})", shown)
                return
        self.log.add(number, "(line)", f"bytes that are not UTF-8 ({bad!r})")


def wrong_delimiter(header: list[str]) -> str | None:
    """The delimiter a one-column header was evidently written with, if any."""
    if len(header) != 1:
        return None
    for delimiter in OTHER_DELIMITERS:
        if delimiter in header[0]:
            return delimiter
    return None
