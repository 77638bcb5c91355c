"""Reading a CSV export: header, rows with their line numbers, BOM, encoding, delimiter.

The fast path is the C ``csv`` reader over a UTF-8 text stream (``utf-8-sig`` drops an
Excel byte-order mark). Bytes that are not UTF-8 stop that stream; only then is the
file scanned again, line by line in binary, to name every offending line and column.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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

    path: Path
    header: list[str]
    stream: io.TextIOWrapper
    reader: Iterator[list[str]]
    header_line: int = 1
    size: int = 0
    progress: ProgressCallback | None = None
    # Where rows that no backend can store are reported (a NUL character: PostgreSQL
    # text cannot hold one). Such rows are not yielded.
    log: ProblemLog | None = None
    rows_read: int = field(default=0, init=False)

    @property
    def name(self) -> str:
        return str(self.path)

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
                    progress(count, self._position())
                # One C-level scan per row; the field-by-field search runs only on a hit.
                if "\x00" in "".join(fields):
                    self._report_nul(start, fields)
                    continue
                yield start, fields
        except UnicodeDecodeError:
            raise EncodingProblem(locate_encoding_errors(self.path)) from None
        finally:
            self.rows_read = count
            if progress is not None:
                progress(count, self.size)

    def _report_nul(self, line: int, fields: list[str]) -> None:
        if self.log is None:
            raise ValueError(f"{self.path}:{line}: a field contains a NUL character")
        for index, value in enumerate(fields):
            if "\x00" in value:
                column = self.header[index] if index < len(self.header) else f"field {index + 1}"
                self.log.add(line, column, "contains a NUL character", value.replace("\x00", "\\0"))

    def _position(self) -> int:
        try:
            return int(self.stream.buffer.tell())  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        self.stream.close()


def open_csv(
    path: Path, progress: ProgressCallback | None = None, log: ProblemLog | None = None
) -> CsvFile:
    """Open ``path`` and read its header; raises ``EncodingProblem`` for non-UTF-8 bytes."""
    stream = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed by CsvFile)
    reader = csv.reader(stream)
    try:
        header = next(reader, [])
    except UnicodeDecodeError:
        stream.close()
        raise EncodingProblem(locate_encoding_errors(path)) from None
    except BaseException:
        stream.close()
        raise
    return CsvFile(
        path=path,
        header=header,
        stream=stream,
        reader=reader,
        header_line=reader.line_num,
        size=os.path.getsize(path),
        progress=progress,
        log=log,
    )


def locate_encoding_errors(path: Path) -> ProblemLog:
    """Every line holding bytes that are not UTF-8, with the column they fall in."""
    log = ProblemLog(str(path))
    header: list[str] = []
    with open(path, "rb") as binary:
        for number, raw in enumerate(binary, start=1):
            chunk = raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
            text = chunk.decode("utf-8", errors="surrogateescape")
            fields = next(csv.reader([text]), [])
            if number == 1:
                header = fields
            try:
                chunk.decode("utf-8")
                continue
            except UnicodeDecodeError as error:
                bad = chunk[error.start : error.end]
            for index, value in enumerate(fields):
                if any("\udc80" <= ch <= "\udcff" for ch in value):
                    column = header[index] if index < len(header) and number > 1 else "header"
                    shown = value.encode("utf-8", errors="surrogateescape").decode(
                        "utf-8", errors="backslashreplace"
                    )
                    log.add(number, column, f"bytes that are not UTF-8 ({bad!r})", shown)
                    break
            else:
                log.add(number, "(line)", f"bytes that are not UTF-8 ({bad!r})")
    return log


def wrong_delimiter(header: list[str]) -> str | None:
    """The delimiter a one-column header was evidently written with, if any."""
    if len(header) != 1:
        return None
    for delimiter in OTHER_DELIMITERS:
        if delimiter in header[0]:
            return delimiter
    return None
