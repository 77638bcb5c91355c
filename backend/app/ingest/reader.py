"""Reading a CSV export: header, rows with their line numbers, BOM, encoding, delimiter.

The fast path is the C ``csv`` reader over a UTF-8 text stream (``utf-8-sig`` drops an
Excel byte-order mark). Bytes that are not UTF-8 stop that stream; only then is the
file scanned again, line by line in binary, to name every offending line and column
(a pipe cannot be read twice: there the first bad line is named).

A binary stream (an upload, standard input) is split into lines the same way and
decoded line by line: the first line that is not UTF-8 stops the import, and the rest
of the stream is scanned for the others (``stream_lines``). The caller keeps the stream
open.

Memory is bounded for any input: a physical line (``\n``, ``\r\n`` or ``\r`` ends
it) is read at most MAX_LINE_CHARS characters at a time, so ``/dev/zero`` or a file
without a newline is refused at its line instead of being buffered whole, and a field
is at most the csv module's field limit. Anything the csv module cannot read, and a
file that starts with NUL bytes (binary data, UTF-16 text), is a FILE:LINE problem.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from backend.app.ingest.problems import ProblemLog

# The longest physical line read; real exports' lines are a few hundred characters.
MAX_LINE_CHARS = 1_000_000
# Bytes looked at for NULs before reading: text exports have none.
SNIFF_BYTES = 4096
NUL_BYTES_OF_BINARY = 8
# Delimiters a spreadsheet may have used instead of the comma.
OTHER_DELIMITERS = (";", "\t", "|")
ProgressCallback = Callable[[int, int], None]
PROGRESS_EVERY = 50_000


class UnreadableFile(Exception):
    """The file cannot be read as a CSV export; ``log`` names the lines."""

    def __init__(self, log: ProblemLog) -> None:
        super().__init__("\n".join(log.lines()))
        self.log = log


class EncodingProblem(UnreadableFile):
    """The file is not UTF-8; ``log`` names the lines."""


class _LineTooLong(Exception):
    pass


def bounded_lines(stream: io.TextIOWrapper, limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The stream's lines, refusing (``_LineTooLong``) one longer than ``limit`` characters
    after reading no more than that: what the csv reader reads its records from."""
    readline = stream.readline
    at_most = limit + 1
    while line := readline(at_most):
        if len(line) > limit:
            raise _LineTooLong
        yield line


def _one_problem(name: str | Path, line: int, column: str, message: str) -> UnreadableFile:
    log = ProblemLog(str(name))
    log.add(line, column, message)
    return UnreadableFile(log)


def _too_long(name: str | Path, line: int) -> UnreadableFile:
    return _one_problem(
        name, line, "(line)", f"longer than {MAX_LINE_CHARS:,} characters: not a CSV export"
    )


def _not_csv(name: str | Path, line: int, error: csv.Error) -> UnreadableFile:
    return _one_problem(name, line, "(line)", f"not readable as CSV: {error}")


@dataclass
class CsvFile:
    """An open export: its header and, once iterated, its data rows with line numbers."""

    name: str
    header: list[str]
    # Rows of fields; its ``line_num`` is the number of the last line read (csv.reader's;
    # a Parquet reader counts rows).
    reader: Iterator[list[str]]
    close: Callable[[], None]
    header_line: int = 1
    size: int = 0
    progress: ProgressCallback | None = None
    # Where rows that no backend can store are reported (a NUL character: PostgreSQL
    # text cannot hold one). Such rows are not yielded.
    log: ProblemLog | None = None
    # Bytes read so far, for the progress bar (0 when unknown).
    position: Callable[[], int] = lambda: 0
    # The file on disk, when it is one (read again to name encoding errors; a fast reader
    # may open it again); None for a stream or a Parquet file.
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
            raise encoding_problem(self.name, self.path, previous + 1) from None
        except _LineTooLong:
            raise _too_long(self.name, reader.line_num + 1) from None  # type: ignore[attr-defined]
        except csv.Error as error:
            raise _not_csv(self.name, previous + 1, error) from None
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
    """Open ``path`` and read its header; raises ``UnreadableFile`` (``EncodingProblem`` for
    non-UTF-8 bytes) naming the line. A pipe is read as a stream, never twice."""
    binary = open(path, "rb")  # noqa: SIM115 (closed by CsvFile)
    try:
        head = binary.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        # Many NULs: binary data or UTF-16 (every other byte). A NUL or two in a field
        # of a text export is reported on its row instead.
        if head.count(b"\x00") >= max(NUL_BYTES_OF_BINARY, len(head) // 16):
            raise _one_problem(
                path,
                1,
                "(file)",
                "NUL bytes: binary data or UTF-16 text, not a CSV export (save it as CSV UTF-8)",
            )
        stream = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    except BaseException:
        binary.close()
        raise
    reader = csv.reader(bounded_lines(stream))
    try:
        header = next(reader, [])
    except UnicodeDecodeError:
        stream.close()
        raise encoding_problem(str(path), path, 1) from None
    except _LineTooLong:
        stream.close()
        raise _too_long(path, 1) from None
    except csv.Error as error:
        stream.close()
        raise _not_csv(path, 1, error) from None
    except BaseException:
        stream.close()
        raise

    def position() -> int:
        try:
            return binary.tell()
        except (OSError, ValueError):
            return 0

    return CsvFile(
        name=str(path),
        header=header,
        reader=reader,
        close=stream.close,
        header_line=reader.line_num,
        size=os.path.getsize(path) if path.is_file() else 0,
        progress=progress,
        log=log,
        position=position,
        path=path,
    )


def open_csv_stream(
    binary: BinaryIO,
    name: str,
    progress: ProgressCallback | None = None,
    log: ProblemLog | None = None,
    size: int = 0,
) -> CsvFile:
    """Read CSV from an open binary stream (left open), naming it ``name`` in problems;
    raises ``UnreadableFile`` as ``open_csv`` does."""
    counted = _CountingLines(binary)
    reader = csv.reader(stream_lines(counted, name))
    try:
        header = next(reader, [])
    except _LineTooLong:
        raise _too_long(name, 1) from None
    except csv.Error as error:
        raise _not_csv(name, 1, error) from None
    return CsvFile(
        name=name,
        header=header,
        reader=reader,
        close=lambda: None,
        header_line=reader.line_num,
        size=size,
        progress=progress,
        log=log,
        position=lambda: counted.position,
    )


class _CountingLines:
    """The lines of a binary stream, split as a text file opened with ``newline=""``
    splits them (at ``\n``, ``\r\n`` or a lone ``\r``, kept at the end of the line),
    read in chunks, counting the bytes read; a line longer than ``MAX_LINE_CHARS`` bytes
    is refused (``_LineTooLong``) without reading more of it."""

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
            if len(pending) > MAX_LINE_CHARS or any(len(ln) > MAX_LINE_CHARS for ln in lines):
                raise _LineTooLong
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
            scan.header = _fields(text)
        yield text


def encoding_problem(name: str, path: Path | None, line: int) -> EncodingProblem:
    """Every line of a file holding bytes that are not UTF-8; of a pipe, which cannot be
    read again, the line where decoding stopped (a chunk is decoded at a time: about)."""
    if path is not None and path.is_file():
        log = locate_encoding_errors(path)
        log.path = name
        return EncodingProblem(log)
    log = ProblemLog(name)
    log.add(line, "(line)", "bytes that are not UTF-8 at or after this line")
    return EncodingProblem(log)


def locate_encoding_errors(path: Path) -> ProblemLog:
    """Every line holding bytes that are not UTF-8, with the column they fall in."""
    scan = _EncodingScan(ProblemLog(str(path)))
    with open(path, "rb") as binary:
        number = 0
        while raw := binary.readline(MAX_LINE_CHARS + 1):
            number += 1
            if len(raw) > MAX_LINE_CHARS:
                scan.log.add(number, "(line)", f"longer than {MAX_LINE_CHARS:,} bytes")
                break
            scan.line(number, raw[3:] if number == 1 and raw.startswith(_BOM) else raw)
    return scan.log


def _fields(text: str) -> list[str]:
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return []


class _EncodingScan:
    """Reports the lines that are not UTF-8, naming the column of the first bad bytes."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log
        self.header: list[str] = []

    def line(self, number: int, chunk: bytes) -> None:
        fields = _fields(chunk.decode("utf-8", errors="surrogateescape"))
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
