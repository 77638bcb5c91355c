"""The ``ffdb`` entry point and its error boundary.

Errors a person can act on are printed as one line with a non-zero exit; ``--debug``
shows the traceback instead. No message leaves here with a database password in it.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy.exc import SQLAlchemyError

# Command modules register themselves on `app` when imported; import each one here.
import backend.app.cli.backup_commands  # noqa: F401  (registers `ffdb backup`, `ffdb restore`)
from backend.app.cli import (
    db_commands,  # noqa: F401
    demo_command,  # noqa: F401
    import_commands,  # noqa: F401  (ffdb import, ffdb export)
    query_commands,  # noqa: F401
    transfer_command,  # noqa: F401
    workflow_commands,  # noqa: F401  (ffdb workflow, ffdb lifecycle)
)
from backend.app.cli.app import app
from backend.app.cli.common import CommandError, error_console
from backend.app.database.db import scrub_secrets
from backend.app.maintenance.schema_version import SchemaOutOfDate

KNOWN_ERRORS = (SchemaOutOfDate, SQLAlchemyError, AlembicCommandError, OSError, ValueError)


def _one_line(error: BaseException) -> str:
    """The first line of what went wrong; driver errors without SQLAlchemy's wrapping."""
    original = getattr(error, "orig", None) if isinstance(error, SQLAlchemyError) else None
    message = str(original if original is not None else error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _scrubbed(message: str, args: list[str]) -> str:
    """``message`` without any secret of the URLs this run was given (arguments or
    DATABASE_URL), wherever in a URL it sat, parseable or not."""
    candidates = [os.environ.get("DATABASE_URL", "")]
    candidates += [arg.partition("=")[2] if arg.startswith("--") else arg for arg in args]
    return scrub_secrets(message, [c for c in candidates if "://" in c])


def _fail(message: str, exit_code: int = 1) -> NoReturn:
    error_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
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
        _fail(_scrubbed(str(error), args), error.exit_code)
    except Exception as error:
        if debug:
            raise
        known = isinstance(error, KNOWN_ERRORS)
        detail = _scrubbed(_one_line(error), args)
        _fail(detail if known else f"{type(error).__name__}: {detail} (--debug shows more)")
