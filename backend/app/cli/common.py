"""What every ``ffdb`` command shares: the URL option, the console, the error type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backend.app.database.defaults import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine


if TYPE_CHECKING:
    console: Console
    error_console: Console


def __getattr__(name: str) -> Any:
    # ``console`` (stdout) and ``error_console`` (stderr) are made on first import by a
    # command module, so ``ffdb --help`` and ``--version`` never load rich.
    if name in ("console", "error_console"):
        from rich.console import Console

        made = Console(stderr=name == "error_console")
        globals()[name] = made
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class CommandError(Exception):
    """A failure to report as one line and a non-zero exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        help="SQLAlchemy URL of the database [default: $DATABASE_URL, else "
        f"{DEFAULT_DATABASE_URL}]",
        show_default=False,
    ),
]


def require_existing_sqlite(url: str) -> None:
    """Refuse a SQLite path with no file: connecting would create an empty database."""
    from backend.app.database.db import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise CommandError(f"no database at {path}: run `ffdb upgrade` to create it", exit_code=1)


@contextmanager
def open_engine(
    url: str, *, require_schema: bool = True, must_exist: bool | None = None
) -> Iterator[Engine]:
    """An engine on ``url``; by default refuses a database that is not at head.

    A SQLite file that does not exist is refused too (unless ``must_exist=False``), so
    a mistyped path is reported instead of silently becoming a new, empty database.
    """
    from backend.app.database.db import make_engine, normalize_url
    from backend.app.maintenance.schema_version import require_current

    if must_exist if must_exist is not None else require_schema:
        require_existing_sqlite(url)
    engine = make_engine(normalize_url(url))
    try:
        if require_schema:
            require_current(engine)
        yield engine
    finally:
        engine.dispose()
