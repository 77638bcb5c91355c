"""The ``ffdb`` entry point and its error boundary.

Errors a person can act on are printed as one line with a non-zero exit; ``--debug``
shows the traceback instead. No message leaves here with a database password in it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

from backend.app.cli.app import app
from backend.app.cli.commands import COMMANDS, PACKAGE, modules
from backend.app.cli.common import CommandError


def load_commands(args: list[str]) -> None:
    """Import the module of the command ``args`` names (its commands register on
    ``app``), or every command module when the name is not a known one (so the user
    gets click's own "No such command"). ``ffdb``, ``ffdb --help`` and ``--version``
    load none: the root group lists the commands from ``commands.COMMANDS``."""
    name = next((arg for arg in args if not arg.startswith("-")), None)
    if name is None:
        return
    wanted = [COMMANDS[name].module] if name in COMMANDS else modules()
    for module in wanted:
        importlib.import_module(f"{PACKAGE}.{module}")


def _known_errors() -> tuple[type[BaseException], ...]:
    # Imported here, on the error path only: loading them costs start-up time.
    from alembic.util.exc import CommandError as AlembicCommandError
    from sqlalchemy.exc import SQLAlchemyError

    from backend.app.maintenance.schema_version import SchemaOutOfDate

    return (SchemaOutOfDate, SQLAlchemyError, AlembicCommandError, OSError, ValueError)


def _one_line(error: BaseException) -> str:
    """The first line of what went wrong; driver errors without SQLAlchemy's wrapping."""
    from sqlalchemy.exc import SQLAlchemyError

    original = getattr(error, "orig", None) if isinstance(error, SQLAlchemyError) else None
    message = str(original if original is not None else error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _scrubbed(message: str, args: list[str]) -> str:
    """``message`` without any secret of the URLs this run was given (arguments or
    DATABASE_URL), wherever in a URL it sat, parseable or not."""
    from backend.app.database.db import scrub_secrets

    candidates = [os.environ.get("DATABASE_URL", "")]
    candidates += [arg.partition("=")[2] if arg.startswith("--") else arg for arg in args]
    return scrub_secrets(message, [c for c in candidates if "://" in c])


def _fail(message: str, exit_code: int = 1) -> NoReturn:
    from backend.app.cli.common import error_console

    error_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(exit_code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the app, with errors turned into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    # pyarrow's default allocator (mimalloc) keeps ~20 MB more resident than the C
    # library's while an import parses its file one block at a time; imports promise a
    # flat memory bound. Read when pyarrow first allocates; a user's own setting wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        load_commands(args)
        app(args=args, prog_name="ffdb")
    except CommandError as error:
        if debug:
            raise
        _fail(_scrubbed(str(error), args), error.exit_code)
    except Exception as error:
        if debug:
            raise
        known = isinstance(error, _known_errors())
        detail = _scrubbed(_one_line(error), args)
        _fail(detail if known else f"{type(error).__name__}: {detail} (--debug shows more)")
