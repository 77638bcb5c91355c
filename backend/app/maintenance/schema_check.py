"""Whether a database is fit to use: what ``ffdb check`` asks.

At head, the same schema as the models (Alembic's comparison, ``migrate.model_drift``)
and, on SQLite, its foreign-key guard triggers. A database whose catalogue is exactly
the recorded one of a fresh database at head (``head_schema``) passed all three when
the record was made, so Alembic and the models load only for any other database.
"""

from __future__ import annotations

from sqlalchemy import Engine

from backend.app.database.db import read_only
from backend.app.maintenance import head_schema
from backend.app.maintenance.schema_version import (
    current_revision,
    head_revision,
    known_revisions,
    not_at_head,
)


def schema_problem(engine: Engine) -> str | None:
    """The first reason the database is not fit to use, or None."""
    head = head_revision()
    # Only reads: a reader's transaction, so a long import does not hold it up.
    with read_only(engine).connect() as connection:
        current = current_revision(connection)
        if current is not None and current not in known_revisions():
            return not_at_head(current)  # `ffdb upgrade` cannot help there
        if current != head:
            found = f"at {current}" if current else "never migrated"
            return f"database is not at head ({found}, head is {head}): run `ffdb upgrade`"
        if head_schema.matches_head(connection):
            return None
        from backend.app.maintenance import integrity
        from backend.app.maintenance.migrate import model_drift

        drift = model_drift(connection)
        if drift:
            more = f" (and {len(drift) - 1} more)" if len(drift) > 1 else ""
            return f"models and migrations differ: {drift[0]}{more}"
        missing = integrity.missing_guards(connection)
        if missing:
            found = f"{len(missing)} SQLite foreign-key guard trigger(s) missing, e.g. {missing[0]}"
            if integrity.has_orphans(connection):
                return (
                    f"{found}, and rows reference missing parents: repair or delete the rows "
                    "`ffdb doctor` lists, then run `ffdb upgrade`"
                )
            return f"{found}: run `ffdb upgrade` or `ffdb reset --yes`"
    return None
