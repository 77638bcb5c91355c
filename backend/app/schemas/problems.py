"""A problem found in a database by a check (``ffdb doctor``, ``ffdb check``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: which check, where (table and key), and what is wrong."""

    check: str
    table: str
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.table} {self.key}: {self.detail}"
