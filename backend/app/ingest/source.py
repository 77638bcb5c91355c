"""Opening an export for one command: read the header, recognise the format, or refuse.

What an import reads is an ``ImportSource``: a file on disk, or an open binary stream
(an upload, standard input) with the name its problems are reported under
(``NAME:LINE``). Both go through the same reader, validation and transaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from backend.app.ingest.formats import FileKind, Layout, detect
from backend.app.ingest.problems import ImportRejected, ProblemLog
from backend.app.ingest.reader import (
    CsvFile,
    ProgressCallback,
    UnreadableFile,
    open_csv,
    open_csv_stream,
)

DEFAULT_STREAM_NAME = "<stream>"


@dataclass(frozen=True)
class ImportSource:
    """A file to import: ``path`` on disk, or ``stream`` (binary, left open) named ``name``."""

    name: str
    path: Path | None = None
    stream: BinaryIO | None = None

    def __str__(self) -> str:
        return self.name

    @property
    def file_name(self) -> str:
        """The last part of the name (what ``store_extra_attributes.source_file`` keeps)."""
        return PurePath(self.name).name or self.name

    @property
    def size(self) -> int:
        """Bytes in the source, when known (0 for a pipe), for the progress bar."""
        if self.path is not None:
            return os.path.getsize(self.path)
        try:
            return os.fstat(self.stream.fileno()).st_size if self.stream is not None else 0
        except (OSError, ValueError, AttributeError):
            return 0

    def rewinder(self) -> Callable[[], None] | None:
        """What makes the source readable again from where it starts now (a retry of a
        failed import reads it again); None for a stream that cannot seek (a pipe)."""
        if self.stream is None:
            return lambda: None
        stream = self.stream
        try:
            if not stream.seekable():
                return None
            start = stream.tell()
        except (OSError, ValueError):
            return None
        return lambda: _seek(stream, start)


Readable = Path | str | BinaryIO | ImportSource


def import_source(source: Readable, name: str | None = None) -> ImportSource:
    """``source`` as an ``ImportSource``: a path (its text is the default name) or a
    binary file object (named ``name``, else its own ``name``, else ``<stream>``)."""
    if isinstance(source, ImportSource):
        return source if name is None else ImportSource(name, source.path, source.stream)
    if isinstance(source, str | PurePath):
        path = Path(source)
        return ImportSource(str(path) if name is None else name, path=path)
    own = getattr(source, "name", None)
    shown = name or (own if isinstance(own, str) and own else DEFAULT_STREAM_NAME)
    return ImportSource(shown, stream=source)


def open_rows(source: ImportSource, progress: ProgressCallback | None, log: ProblemLog) -> CsvFile:
    """The source's header and rows: CSV, or Parquet (``parquet_source``)."""
    from backend.app.ingest.parquet_source import is_parquet, open_parquet

    if is_parquet(source):
        return open_parquet(source, progress, log)
    if source.path is not None:
        csv_file = open_csv(source.path, progress, log)
        if source.name != str(source.path):
            csv_file.name = source.name
        return csv_file
    assert source.stream is not None
    return open_csv_stream(source.stream, source.name, progress, log, source.size)


@contextmanager
def open_export(
    source: ImportSource,
    accepted: tuple[FileKind, ...],
    log: ProblemLog,
    progress: ProgressCallback | None = None,
) -> Iterator[tuple[CsvFile, Layout]]:
    """The open file and its layout; what cannot be read (non-UTF-8 bytes, binary data,
    an endless line, broken CSV) becomes ``ImportRejected`` naming the line."""
    try:
        csv_file = open_rows(source, progress, log)
    except UnreadableFile as problem:
        raise ImportRejected(problem.log) from None
    try:
        layout = detect(csv_file.header, accepted, log)
        log.raise_if_any()
        assert layout is not None
        try:
            yield csv_file, layout
        except UnreadableFile as problem:
            raise ImportRejected(problem.log) from None
    finally:
        csv_file.close()


def require_rows(csv_file: CsvFile, log: ProblemLog) -> None:
    """A header with no data rows is refused: it is almost always a truncated export."""
    if csv_file.rows_read == 0:
        log.add(csv_file.header_line, "header", "header only: the file has no data rows")


def width_problem(line: int, fields: list[str], width: int, log: ProblemLog) -> bool:
    if len(fields) == width:
        return False
    log.add(
        line,
        "row",
        f"{len(fields)} fields, expected {width} as in the header",
        ",".join(fields)[:80],
    )
    return True


DATE_CACHE_LIMIT = 100_000  # distinct date spellings remembered per import


def _seek(stream: BinaryIO, position: int) -> None:
    stream.seek(position)
