"""What every ``ffdb`` command shares: the URL option, the console, the error type."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer

from backend.app.database.defaults import DEFAULT_DATABASE_URL

# Everything else this module uses (SQLAlchemy, rich, the maintenance layer) is imported
# inside the function that needs it: `ffdb --help` and `--version` import this module.
if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

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


def _valid_database_url(context: typer.Context, value: str) -> str:
    """The URL as given, or a one-line error naming where it came from (the option or
    DATABASE_URL) and what is wrong with it, never the URL itself (it may hold a secret)."""
    from backend.app.database.db import normalize_url, scrub_secrets

    try:
        normalize_url(value).get_dialect()
    except Exception as error:
        source = context.get_parameter_source("database_url")
        # By name: typer carries its own copy of click's ParameterSource.
        from_environment = getattr(source, "name", "") == "ENVIRONMENT"
        where = "DATABASE_URL" if from_environment else "--database-url"
        reason = scrub_secrets(
            str(error).strip().splitlines()[0] if str(error).strip() else "", [value]
        )
        raise CommandError(
            f"{where} is not a usable database URL ({reason or type(error).__name__}); "
            "expected e.g. sqlite:///./fashion_forecast.db or "
            "postgresql+psycopg://user@host:5432/dbname",
            exit_code=2,
        ) from None
    return value


DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        callback=_valid_database_url,
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


T = TypeVar("T")


def refuse_database_output(output: Path, url: str | None = None) -> None:
    """Refuse an output path that is a database (``url``'s, default ``DATABASE_URL``'s,
    its journal or backups, or any SQLite file): every command that writes a file asks."""
    from backend.app.database.db import database_url
    from backend.app.maintenance.backup import database_in_the_way

    if url is None:
        try:
            url = database_url().render_as_string(hide_password=False)
        except Exception:
            url = None
    reason = database_in_the_way(output, url)
    if reason is not None:
        raise CommandError(f"refusing to write {output}: {reason}", exit_code=2)


def write_output(output: Path, write: Callable[[TextIO], T], url: str | None = None) -> T:
    """Write text to ``output`` through ``write`` as one step (``write_file_output``); the
    file is new ("x": never an existing one)."""

    def text(partial: Path) -> T:
        with open(partial, "x", encoding="utf-8", newline="") as out:
            return write(out)

    return write_file_output(output, text, url)


def write_file_output(output: Path, write: Callable[[Path], T], url: str | None = None) -> T:
    """Have ``write`` write a file at the path it is given, then make it ``output``:
    refused if ``output`` is a database, written under a temporary name beside it and
    renamed only when complete, so a failed write leaves neither a half file nor a
    temporary one."""
    refuse_database_output(output, url)
    output.parent.mkdir(parents=True, exist_ok=True)
    # A new name of this run's own, with the usual permissions (mkstemp's would be
    # owner-only).
    partial = output.with_name(f".{output.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
    try:
        result = write(partial)
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return result
