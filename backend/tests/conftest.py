"""Fixtures that run every database-bound test on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``FFDB_TEST_POSTGRES_URL`` (a URL of a database the tests may
connect to as a user allowed to CREATE DATABASE), by default the local server at
127.0.0.1:5432. Each test gets its own database, dropped afterwards. Without a
reachable server the PostgreSQL cases skip with a one-line reason, except in CI
(``CI=true``), where they fail: CI must never pass without them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine, normalize_url, redacted
from backend.app.maintenance.schema_version import alembic_config
from backend.tests.postgres_tally import PostgresTally

POSTGRES_URL_ENV = "FFDB_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
SHARED_DIR = Path(__file__).resolve().parents[3] / "shared"


def postgres_admin_url() -> URL:
    return normalize_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the test server, for creating and dropping databases."""
    engine = make_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        engine.dispose()
        reason = (
            f"PostgreSQL not reachable at {redacted(postgres_admin_url())} "
            f"(set {POSTGRES_URL_ENV}): {_first_line(error)}"
        )
        if _in_ci():
            pytest.fail(reason + " -- CI must run the PostgreSQL tests")
        pytest.skip(reason)
    yield engine
    engine.dispose()


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


@pytest.fixture(scope="session")
def postgres_databases(postgres_admin: Engine) -> PostgresDatabases:
    databases = PostgresDatabases(postgres_admin)
    databases.drop_stale()
    return databases


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[URL]:
    """The URL of a new, empty database on the test's backend."""
    if backend_name == "sqlite":
        yield normalize_url(f"sqlite:///{tmp_path / 'test.db'}")
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    yield url
    databases.drop(url)


class MigratedTemplates(dict[str, URL]):
    """One database per backend migrated to head once per session; tests get copies."""

    def __init__(self) -> None:
        super().__init__()
        self.cleanups: list[Callable[[], None]] = []


@pytest.fixture(scope="session")
def _migrated_templates() -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates()
    yield templates
    for cleanup in templates.cleanups:
        cleanup()


def migrate(url: URL | str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


@pytest.fixture
def migrated_url(
    backend_name: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    _migrated_templates: MigratedTemplates,
) -> Iterator[URL]:
    """A new database of the test's own, migrated to head."""
    if backend_name == "sqlite":
        if "sqlite" not in _migrated_templates:
            template = tmp_path_factory.mktemp("template") / "head.db"
            migrate(f"sqlite:///{template}")
            _migrated_templates["sqlite"] = normalize_url(f"sqlite:///{template}")
        target = tmp_path / "test.db"
        shutil.copyfile(str(_migrated_templates["sqlite"].database), target)
        yield normalize_url(f"sqlite:///{target}")
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    if "postgresql" not in _migrated_templates:
        template_url = databases.create()
        _migrated_templates.cleanups.append(lambda: databases.drop(template_url))
        migrate(template_url)
        _migrated_templates["postgresql"] = template_url
    url = databases.create(template=_migrated_templates["postgresql"].database)
    yield url
    databases.drop(url)


@pytest.fixture
def engine(migrated_url: URL) -> Iterator[Engine]:
    """An engine on a fresh database at head, on each backend."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def shared_dir() -> Path:
    """The read-only ``../shared`` folder beside the repository (fixtures, spec)."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent: the retailer fixtures live there")
    return SHARED_DIR


# --- PostgreSQL: how many tests ran there (transfer / postgres area) ----------------------


def pytest_configure(config: pytest.Config) -> None:
    # Only where the run's reports all arrive: the xdist controller, or a run without xdist.
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(PostgresTally(), "ffdb-postgres-tally")


# --- queries (issue 6): one read-only database per backend for the read tests ------------


@pytest.fixture(scope="session")
def _reads_templates() -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates()
    yield templates
    for cleanup in templates.cleanups:
        cleanup()


@pytest.fixture
def reads_url(
    backend_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    _reads_templates: MigratedTemplates,
) -> URL:
    """A database at head holding the read tests' data, built once per session and backend.

    Shared by every read test of the session: tests must not write to it (take
    a copy with ``copy_database`` to write).
    """
    from backend.tests.queries_seed import seed_reads_database

    if backend_name not in _reads_templates:
        if backend_name == "sqlite":
            url = normalize_url(f"sqlite:///{tmp_path_factory.mktemp('reads') / 'reads.db'}")
        else:
            databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
            url = databases.create()
            _reads_templates.cleanups.append(lambda: databases.drop(url))
        migrate(url)
        seeding_engine = make_engine(url)
        try:
            seed_reads_database(seeding_engine)
        finally:
            seeding_engine.dispose()
        _reads_templates[backend_name] = url
    return _reads_templates[backend_name]


def copy_database(
    url: URL, folder: Path, request: pytest.FixtureRequest
) -> tuple[URL, Callable[[], None]]:
    """A copy of the database at ``url`` (a file in ``folder`` or a PostgreSQL database
    made from it as a template, which no one may be connected to) and how to drop it."""
    if url.get_backend_name() == "sqlite":
        target = folder / f"copy-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(str(url.database), target)
        return normalize_url(f"sqlite:///{target}"), lambda: None
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    copy = databases.create(template=url.database)
    return copy, lambda: databases.drop(copy)
