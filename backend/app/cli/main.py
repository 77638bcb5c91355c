"""The ``ffdb`` entry point and its error boundary.

Errors a person can act on are printed as one line with a non-zero exit; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

# Command modules register themselves on `app` when imported; import each one here.
from backend.app.cli import demo_command  # noqa: F401
from backend.app.cli.app import app
from backend.app.cli.common import CommandError, error_console
from backend.app.database.schema_version import SchemaOutOfDate


def _one_line(error: BaseException) -> str:
    """The first line of what went wrong; driver errors without SQLAlchemy's wrapping."""
    original = getattr(error, "orig", None) if isinstance(error, SQLAlchemyError) else None
    message = str(original if original is not None else error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _fail(message: str, exit_code: int = 1) -> NoReturn:
    error_console.print(f"error: {message}", markup=False, highlight=False)
    sys.exit(exit_code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the app, with errors turned into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, prog_name="ffdb")
    except CommandError as error:
        if debug:
            raise
        _fail(str(error), error.exit_code)
    except Exception as error:
        if debug:
            raise
        known = isinstance(error, SchemaOutOfDate | SQLAlchemyError | OSError | ValueError)
        detail = _one_line(error)
        _fail(detail if known else f"{type(error).__name__}: {detail} (--debug shows more)")
