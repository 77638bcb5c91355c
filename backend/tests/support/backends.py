"""The two backends the tests run on, and databases made and dropped on the PostgreSQL one.

PostgreSQL comes from ``FFDB_TEST_POSTGRES_URL`` (a URL of a database the tests may
connect to as a user allowed to CREATE DATABASE), by default the local server at
127.0.0.1:5432. Without a reachable server the PostgreSQL cases skip with a one-line
reason, except in CI (``CI=true``), where they fail: CI must never pass without them.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from backend.app.database.db import normalize_url
from backend.app.maintenance.schema_version import alembic_config, script_directory

POSTGRES_URL_ENV = "FFDB_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Parametrize ``backend_name`` with these to run a test on both backends.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def in_ci() -> bool:
    """Whether this is a CI run (``CI=true``): what may skip on a laptop must fail there."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_admin_url() -> URL:
    return normalize_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)


def first_line(error: BaseException) -> str:
    """``Type: first line`` of an error (of the driver's error when SQLAlchemy wraps one)."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__


def migrate(url: URL | str, revision: str = "head") -> None:
    """``alembic upgrade REVISION`` on the database at ``url``."""
    command.upgrade(alembic_config(url), revision)


def chain() -> list[str]:
    """Every revision of the migrations, oldest first."""
    return [script.revision for script in reversed(list(script_directory().walk_revisions()))]


# ffdb_test_<unix seconds>_<random>: the creation time in the name lets a later run
# drop what a killed run (kill -9, a crashed xdist worker) could not, without touching
# the live databases of a run going on at the same time on the same server.
TEST_DATABASE = re.compile(r"^ffdb_test_(?P<created>\d{10})_[0-9a-f]{8}$")
STALE_AFTER_SECONDS = 6 * 3600


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them afterwards."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin

    def create(self, template: str | None = None) -> URL:
        """A new database, empty or a copy of ``template`` (to which no one may be connected)."""
        name = f"ffdb_test_{int(time.time())}_{uuid.uuid4().hex[:8]}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}{clause}")
        return self.admin.url.set(database=name)

    def drop(self, url: URL) -> None:
        self._drop(str(url.database))

    def _drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_stale(self) -> list[str]:
        """Drop test databases left behind by runs that died hours ago; returns their names."""
        with self.admin.connect() as connection:
            names = connection.execute(text("SELECT datname FROM pg_database")).scalars().all()
        now = time.time()
        stale = [
            name
            for name in names
            if (match := TEST_DATABASE.match(name))
            and now - int(match["created"]) > STALE_AFTER_SECONDS
        ]
        for name in stale:
            with contextlib.suppress(Exception):  # another worker may be dropping it too
                self._drop(name)
        return stale
