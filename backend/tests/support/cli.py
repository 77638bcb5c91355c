"""The one ``ffdb`` runner: the real entry point in-process, and reading its tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from backend.app.cli.common import console, error_console
from backend.app.cli.main import main

WIDE = 250


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_ffdb(capsys: pytest.CaptureFixture[str], *args: str | Path | URL) -> Result:
    """``ffdb ARGS`` through the real entry point (its error boundary included).

    A URL argument is passed with its password, as a user would type it.
    """
    argv = [a.render_as_string(hide_password=False) if isinstance(a, URL) else str(a) for a in args]
    capsys.readouterr()
    # As wide as a big terminal, so table cells are not folded under the assertions.
    widths = (console.width, error_console.width)
    console.width = error_console.width = WIDE
    try:
        main(argv)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        console.width, error_console.width = widths
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich tables in ``output``, as lists of stripped cells."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│") and line.endswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def has_row(output: str, *cells: str) -> bool:
    """Whether a table row starts with ``cells`` (a cell may be matched by its prefix)."""
    return any(
        len(row) >= len(cells) and all(r.startswith(c) for r, c in zip(row, cells, strict=False))
        for row in table_rows(output)
    )
