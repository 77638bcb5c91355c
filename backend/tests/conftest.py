"""Fixtures: every database-bound test runs on SQLite and on a real PostgreSQL.

A test that asks for ``backend_name`` (directly or through ``engine``, ``migrated_url``
and the rest) runs once per backend. Databases come from the per-backend cache in
``support/databases.py``; PostgreSQL from ``FFDB_TEST_POSTGRES_URL`` (default: the
local server). Without a reachable server the PostgreSQL cases skip with a one-line
reason, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from backend.app.database.db import make_engine, redacted
from backend.tests.support.backends import (
    BACKENDS,
    POSTGRES_URL_ENV,
    PostgresDatabases,
    first_line,
    in_ci,
    postgres_admin_url,
)
from backend.tests.support.databases import HEAD, PLANNED, READS, DatabaseCache
from backend.tests.support.exports import (
    ExportSet,
    export_set_params,
    require_folder,
    retailer_note,
)
from backend.tests.support.postgres_tally import PostgresTally
from backend.tests.support.samples import orchestrated_season

# --- the PostgreSQL test server ----------------------------------------------------------


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
            f"(set {POSTGRES_URL_ENV}): {first_line(error)}"
        )
        if in_ci():
            pytest.fail(reason + " -- CI must run the PostgreSQL tests")
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_databases(postgres_admin: Engine) -> PostgresDatabases:
    databases = PostgresDatabases(postgres_admin)
    databases.drop_stale()
    return databases


# --- the per-backend database cache --------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_cache(tmp_path_factory: pytest.TempPathFactory) -> DatabaseCache:
    return DatabaseCache(tmp_path_factory.mktemp("sqlite-cache"))


@pytest.fixture(scope="session")
def postgresql_cache(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseCache]:
    cache = DatabaseCache(tmp_path_factory.mktemp("postgresql-cache"), postgres_databases)
    yield cache
    cache.close()


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_cache(backend_name: str, request: pytest.FixtureRequest) -> DatabaseCache:
    """The database cache of the test's backend."""
    cache: DatabaseCache = request.getfixturevalue(f"{backend_name}_cache")
    return cache


@pytest.fixture
def empty_database_url(database_cache: DatabaseCache, tmp_path: Path) -> Iterator[URL]:
    """The URL of a new, empty database on the test's backend."""
    with database_cache.empty(tmp_path / "test.db") as url:
        yield url


@pytest.fixture
def migrated_url(database_cache: DatabaseCache, tmp_path: Path) -> Iterator[URL]:
    """A new database of the test's own, migrated to head (on SQLite: tmp_path/test.db)."""
    with database_cache.copy(HEAD, tmp_path / "test.db") as url:
        yield url


@pytest.fixture
def engine(migrated_url: URL) -> Iterator[Engine]:
    """An engine on a fresh database at head, on each backend."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def season(engine: Engine) -> Iterator[Engine]:
    """``engine`` holding the orchestrated season (``samples.orchestrated_season``): the
    records the workflow, approval and re-forecast tests move through their lifecycles."""
    with Session(engine) as session:
        orchestrated_season(session)
        session.commit()
    yield engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="module", params=BACKENDS)
def shared_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on one database at head per backend, shared by the module's tests.

    For table-driven cases that each work inside a transaction they roll back.
    """
    cache: DatabaseCache = request.getfixturevalue(f"{request.param}_cache")
    engine = make_engine(cache.shared(HEAD))
    yield engine
    engine.dispose()


@pytest.fixture
def reads_url(database_cache: DatabaseCache) -> URL:
    """A database at head holding the read tests' data (``samples.reads_database``).

    Shared by every read test of the session: tests must not write to it.
    """
    return database_cache.shared(READS)


@pytest.fixture
def planned_engine(database_cache: DatabaseCache) -> Iterator[Engine]:
    """An engine on the read tests' data plus filler rows, analyzed (query plans)."""
    engine = make_engine(database_cache.shared(PLANNED))
    yield engine
    engine.dispose()


# --- the import fixtures: the repository's own, and the retailer's -----------------------


@pytest.fixture(params=export_set_params())
def export_set(request: pytest.FixtureRequest) -> ExportSet:
    """Each set of export files: the repository's, and the retailer's when it runs."""
    return require_folder(request.param)


# --- reporting -----------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # Only where the run's reports all arrive: the xdist controller, or a run without xdist.
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(PostgresTally(), "ffdb-postgres-tally")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    note = retailer_note()
    if note is not None and not hasattr(terminalreporter.config, "workerinput"):
        terminalreporter.write_line(note, yellow=True)
