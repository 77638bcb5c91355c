"""Which module defines each ``ffdb`` command, and its one-line help.

``ffdb`` imports only the module of the command it runs (``main.load_commands``), so
``ffdb --version`` and ``ffdb --help`` start without SQLAlchemy, Alembic, rich or
pyarrow, and ``ffdb current`` without what ``ffdb import`` needs. ``ffdb --help`` lists
the commands from here; ``test_cli_startup.py`` checks that this table names every
command with the help its own docstring gives, so it cannot drift.
"""

from __future__ import annotations

from typing import NamedTuple

PACKAGE = "backend.app.cli"


class CommandEntry(NamedTuple):
    module: str  # within backend.app.cli
    help: str  # the command's short help, as ``ffdb --help`` lists it


COMMANDS: dict[str, CommandEntry] = {
    "backup": CommandEntry(
        "backup_commands",
        "Write a consistent copy of a SQLite database next to it, while agents keep working.",
    ),
    "restore": CommandEntry(
        "backup_commands",
        "Replace a SQLite database with a backup; what it held before is backed up first.",
    ),
    "upgrade": CommandEntry(
        "db_commands",
        "Migrate the database up to REVISION (default: head); creates a SQLite file if needed.",
    ),
    "downgrade": CommandEntry(
        "db_commands",
        "Migrate the database down to REVISION ('base' removes every table and its data).",
    ),
    "current": CommandEntry(
        "db_commands", "Print the revision the database is at, and whether that is the head."
    ),
    "history": CommandEntry(
        "db_commands",
        "List the migration chain, newest first, marking the head and the database's revision.",
    ),
    "check": CommandEntry(
        "db_commands",
        "Exit 1 with the reason unless the database is at head, matches the models, and has "
        "its SQLite foreign-key guard triggers; exit 0 otherwise.",
    ),
    "doctor": CommandEntry(
        "db_commands",
        "Look inside the database for damage: SQLite's integrity and foreign-key checks, "
        "missing guard triggers, PostgreSQL constraints and indexes that are not valid, and "
        "rows that break the models'...",
    ),
    "stats": CommandEntry(
        "db_commands", "Show rows per table, database size, revision, backend and URL."
    ),
    "reset": CommandEntry(
        "db_commands", "Drop everything in the database and migrate a fresh schema to head."
    ),
    "erd": CommandEntry(
        "db_commands",
        "Draw the entity-relationship diagram of the models (Mermaid, by paracelsus).",
    ),
    "schema-doc": CommandEntry(
        "db_commands",
        "Write the schema reference (tables, columns, types per backend, constraints, "
        "indexes) as Markdown, generated from the models.",
    ),
    "demo": CommandEntry(
        "demo_command",
        "Build a fresh database at head filled with a sample season, then report on it.",
    ),
    "export": CommandEntry(
        "import_commands", "A table as CSV (or Parquet) that `ffdb import` reads back unchanged."
    ),
    "variance": CommandEntry(
        "query_commands",
        "Forecast against actual units per week, cumulative, and sell-through per store.",
    ),
    "sell-through": CommandEntry(
        "query_commands",
        "Units sold in weeks 1..N / units shipped to the stores, against a target.",
    ),
    "transfer": CommandEntry(
        "transfer_command",
        "Copy every table of the database into the --to database, in one transaction.",
    ),
    "workflow": CommandEntry(
        "workflow_commands",
        "A workflow run's status, progress and outputs, and its steps in order.",
    ),
    "lifecycle": CommandEntry(
        "workflow_commands",
        "The workflow and markdown status diagrams (mermaid), generated from the rules.",
    ),
    "import": CommandEntry(
        "import_commands",
        "Load a retailer's CSV exports: validated, in one transaction, re-runnable.",
    ),
}


def modules() -> list[str]:
    """Every command module, in the order their commands are listed."""
    return list(dict.fromkeys(entry.module for entry in COMMANDS.values()))
