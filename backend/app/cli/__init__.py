"""``ffdb``: the database command line. Thin: parses, calls the layers below, prints."""

from backend.app.cli.main import app, main

__all__ = ["app", "main"]
