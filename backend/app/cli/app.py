"""The ``ffdb`` Typer application. Command modules add their commands to ``app``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

DISTRIBUTION = "fashion-forecast-db"

app = typer.Typer(
    name="ffdb",
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
