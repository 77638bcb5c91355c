"""The ``ffdb`` Typer application. Command modules add their commands to ``app``."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from backend.app.cli.commands import COMMANDS

DISTRIBUTION = "fashion-forecast-db"


class _ListedCommand(TyperCommand):
    """A command whose module was not loaded for this run: it is only listed (``ffdb
    --help``); ``main.load_commands`` loads the module of a command that runs."""

    def invoke(self, ctx: Any) -> Any:
        raise RuntimeError(f"ffdb {self.name}: its module was not loaded (run through main())")


class _Commands(TyperGroup):
    """The root group: lists every command of ``commands.COMMANDS``, loaded or not."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*COMMANDS, *super().list_commands(ctx)]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            return _ListedCommand(cmd_name, help=COMMANDS[cmd_name].help)
        return command


app = typer.Typer(
    name="ffdb",
    cls=_Commands,
    help=(
        "Manage the fashion-forecast database: migrations, checks, imports, reports.\n\n"
        "Every command takes --database-url (default: $DATABASE_URL, else "
        "sqlite:///./fashion_forecast.db); passwords in URLs are never printed."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def package_version() -> str:
    # Here, not at the top: reading package metadata is a visible part of start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ffdb {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Options that apply to every command."""
