"""The schema-version guard: code refuses a database that is not at its revision."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine
from backend.app.maintenance.schema_version import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    head_revision,
    require_current,
)


def test_a_database_at_head_is_accepted(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    require_current(engine)
    with engine.connect() as connection:
        require_current(connection)


def test_a_never_migrated_database_is_refused_with_the_fix(empty_database_url: URL) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(SchemaOutOfDate) as refused:
            require_current(engine)
        assert str(refused.value) == (
            f"database has no schema (never migrated), this code needs {head_revision()}: "
            "run `ffdb upgrade`"
        )
    finally:
        engine.dispose()


def test_downgrade_base_removes_everything_and_is_then_refused(migrated_url: URL) -> None:
    command.downgrade(alembic_config(migrated_url), "base")
    engine = make_engine(migrated_url)
    try:
        inspector = inspect(engine)
        assert inspector.get_table_names() == ["alembic_version"]
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                # No enum types, sequences or views left behind by drop_table.
                leftovers = connection.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                        " ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
                        " AND c.relkind IN ('S', 'v', 'm')"
                        " UNION ALL SELECT t.typname FROM pg_type t JOIN pg_namespace n"
                        " ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'"
                    )
                ).all()
            else:
                leftovers = connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'view')")
                ).all()
        assert leftovers == []
        with pytest.raises(SchemaOutOfDate, match="run `ffdb upgrade`"):
            require_current(engine)
    finally:
        engine.dispose()
