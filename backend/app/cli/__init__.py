"""``ffdb``: the database command line. Thin: parses, calls the layers below, prints."""

from backend.app.cli.app import app
from backend.app.cli.main import main

__all__ = ["app", "main"]
