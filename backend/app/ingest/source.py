"""Opening an export for one command: read the header, recognise the format, or refuse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backend.app.ingest.formats import FileKind, Layout, detect
from backend.app.ingest.problems import ImportRejected, ProblemLog
from backend.app.ingest.reader import CsvFile, ProgressCallback, UnreadableFile, open_csv


@contextmanager
def open_export(
    path: Path,
    accepted: tuple[FileKind, ...],
    log: ProblemLog,
    progress: ProgressCallback | None = None,
) -> Iterator[tuple[CsvFile, Layout]]:
    """The open file and its layout; what cannot be read (non-UTF-8 bytes, binary data,
    an endless line, broken CSV) becomes ``ImportRejected`` naming the line."""
    try:
        csv_file = open_csv(path, progress, log)
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
