"""The ``ffdb`` Typer application. Command modules add their commands to ``app``."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ffdb",
    help="Manage the fashion-forecast database: migrations, checks, imports, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """Options that apply to every command."""
