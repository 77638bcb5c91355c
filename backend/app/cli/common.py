"""What every ``ffdb`` command shares: the URL option, the console, the error type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from backend.app.database.db import DEFAULT_DATABASE_URL, make_engine, normalize_url
from backend.app.database.schema_version import require_current

console = Console()
error_console = Console(stderr=True)


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


@contextmanager
def open_engine(url: str, *, require_schema: bool = True) -> Iterator[Engine]:
    """An engine on ``url``; by default refuses a database that is not at head."""
    engine = make_engine(normalize_url(url))
    try:
        if require_schema:
            require_current(engine)
        yield engine
    finally:
        engine.dispose()
