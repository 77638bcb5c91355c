"""What every import is asked to do besides reading its file: one object, not four arguments."""

from __future__ import annotations

from dataclasses import dataclass, replace

from backend.app.ingest.problems import DEFAULT_PROBLEM_LIMIT, ProblemLog
from backend.app.ingest.reader import ProgressCallback


@dataclass(frozen=True)
class ImportOptions:
    """``dry_run``: validate and count, write nothing. ``replace``: delete stored rows in
    the range the file covers that it lacks (and, for actuals, change loaded values).
    ``progress``: called as rows are read. ``limit``: problems listed before "... and N
    more"."""

    dry_run: bool = False
    replace: bool = False
    progress: ProgressCallback | None = None
    limit: int = DEFAULT_PROBLEM_LIMIT

    def problem_log(self, path: object) -> ProblemLog:
        return ProblemLog(str(path), self.limit)

    def with_progress(self, progress: ProgressCallback | None) -> ImportOptions:
        return replace(self, progress=progress)


DEFAULT_OPTIONS = ImportOptions()
