"""Problems found in an input file, reported as ``FILE:LINE: column: what is wrong (value)``."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PROBLEM_LIMIT = 50


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str
    value: str | None = None

    def sort_key(self) -> tuple[int, str, str]:
        return (self.line, self.column, self.message)

    def render(self, path: str) -> str:
        shown = "" if self.value is None else f" ({_shortened(self.value)!r})"
        return f"{path}:{self.line}: {self.column}: {self.message}{shown}"


# A value is shown whole up to this many characters: a 100,000-character field is not.
SHOWN_VALUE_CHARS = 200


def _shortened(value: str) -> str:
    if len(value) <= SHOWN_VALUE_CHARS:
        return value
    return f"{value[:SHOWN_VALUE_CHARS]}... ({len(value):,} characters)"


@dataclass
class ProblemLog:
    """Keeps the first ``limit`` problems by line and counts the rest."""

    path: str
    limit: int = DEFAULT_PROBLEM_LIMIT
    problems: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, column: str, message: str, value: str | None = None) -> None:
        self.total += 1
        self.problems.append(Problem(line, column, message, value))
        if len(self.problems) > 4 * self.limit:
            self._trim()

    def add_counted(self, found: list[Problem], total: int) -> None:
        """Problems from a query that returned at most ``limit`` of its ``total`` rows."""
        self.total += total
        self.problems.extend(found)
        self._trim()

    def _trim(self) -> None:
        self.problems = sorted(self.problems, key=Problem.sort_key)[: self.limit]

    def __bool__(self) -> bool:
        return self.total > 0

    def listed(self) -> list[Problem]:
        """The problems shown (the first ``limit`` by line); ``total`` counts them all."""
        self._trim()
        return list(self.problems)

    def lines(self) -> list[str]:
        self._trim()
        shown = [problem.render(self.path) for problem in self.problems]
        more = self.total - len(shown)
        if more > 0:
            shown.append(f"... and {more} more")
        return shown

    def raise_if_any(self) -> None:
        if self:
            raise ImportRejected(self)


class ImportRejected(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log
        self.path = log.path
        self.total = log.total
        super().__init__("\n".join(log.lines()))

    def lines(self) -> list[str]:
        return self.log.lines()
