"""Settings, engines and sessions: the one place that decides how we connect.

SQLite is the embedded default; PostgreSQL is reached by changing ``DATABASE_URL``
and nothing else. Every SQLite connection enforces foreign keys, runs in WAL mode,
waits on a busy database instead of failing, and begins write transactions
IMMEDIATE so two writers queue up rather than deadlock on a lock upgrade.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

# Re-exported: the story imports Base from this module.
from backend.app.database.base import Base
from backend.app.database.defaults import DEFAULT_DATABASE_URL

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SQLITE_COMPANION_SUFFIXES",
    "Base",
    "SessionLocal",
    "database_url",
    "default_engine",
    "default_sessions",
    "engine",
    "get_db",
    "make_engine",
    "normalize_url",
    "read_only",
    "redacted",
    "scrub_secrets",
    "session_factory",
    "session_scope",
    "sqlite_file",
    "url_secrets",
]

# Files SQLite keeps beside a database file; they are part of the database.
SQLITE_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that lets a read-only unit of work begin DEFERRED on SQLite, so a
# long report never holds the write lock that IMMEDIATE would take.
READ_ONLY_OPTION = "ffdb_read_only"


def normalize_url(url: str | URL) -> URL:
    """Parse a URL, pointing bare ``postgresql://`` at psycopg 3 (not psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def database_url() -> URL:
    """``DATABASE_URL`` from the environment, else the story's SQLite file."""
    return normalize_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


# Query parameters libpq (and so psycopg) takes as secrets; a URL may carry them as
# ``?password=...`` instead of in its user-info.
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
HIDDEN = "***"
# Secrets in text that is not a parseable URL (a malformed DATABASE_URL, a driver's
# message): the user-info password, and any secret parameter written ``name=value``.
_USERINFO_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]+)(@)")
_PARAMETER_SECRET = re.compile(
    r"(\b(?:" + "|".join(sorted(SECRET_PARAMETERS)) + r")\s*=\s*)('[^']*'|[^&;\s'\"]+)",
    re.IGNORECASE,
)


def url_secrets(url: str | URL) -> set[str]:
    """Every secret ``url`` holds: its user-info password and its secret query parameters."""
    parsed = url if isinstance(url, URL) else make_url(url)
    found = {str(parsed.password)} if parsed.password else set()
    for name, value in parsed.query.items():
        if name.lower() in SECRET_PARAMETERS:
            values = (value,) if isinstance(value, str) else value
            found.update(v for v in values if v)
    return found


def redacted(url: str | URL) -> str:
    """The URL as it may be printed: never with a password, wherever in the URL it sits."""
    shown = normalize_url(url).render_as_string(hide_password=True)
    return _PARAMETER_SECRET.sub(lambda m: m[1] + HIDDEN, shown)


def scrub_secrets(text: str, urls: Iterable[str | URL] = ()) -> str:
    """``text`` with every secret of ``urls`` hidden, and any password that looks like one
    (user-info, ``password=``) even where no URL parses: the last filter before printing."""
    secrets: set[str] = set()
    for url in urls:
        try:
            secrets |= url_secrets(url)
        except Exception:  # noqa: S112 (a malformed URL: the patterns below still apply)
            continue
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    text = _USERINFO_PASSWORD.sub(lambda m: m[1] + HIDDEN + m[3], text)
    return _PARAMETER_SECRET.sub(lambda m: m[1] + HIDDEN, text)


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database or another backend.

    The one answer to "is this an in-memory SQLite database?": ``sqlite://``,
    ``sqlite:///:memory:`` and URI filenames with ``mode=memory`` have no file.
    """
    parsed = normalize_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):
        if parsed.query.get("mode") == "memory" or "mode=memory" in database:
            return None
        return Path(database.removeprefix("file:").split("?", 1)[0])
    return Path(database)


def _echo_requested() -> bool:
    return os.environ.get("FFDB_SQL_ECHO", "").lower() in ("1", "true", "yes", "debug")


def _configure_sqlite(engine: Engine) -> None:
    in_memory = sqlite_file(engine.url) is None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below; pysqlite's
        # own implicit BEGIN would be DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only_unit = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only_unit else "BEGIN IMMEDIATE")


def make_engine(url: str | URL | None = None, **options: Any) -> Engine:
    """An engine for ``url`` (default: ``DATABASE_URL``) with our per-backend settings."""
    target = normalize_url(url) if url is not None else database_url()
    settings: dict[str, Any] = {
        "echo": _echo_requested(),
        # A failed bulk statement must not print thousands of bound values.
        "hide_parameters": True,
    }
    target, secrets = _secrets_out_of_query(target)
    if target.get_backend_name() == "sqlite":
        settings["connect_args"] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
    else:
        settings["pool_pre_ping"] = True
    settings.update(options)
    if secrets:
        settings["connect_args"] = {**settings.get("connect_args", {}), **secrets}
    engine = create_engine(target, **settings)
    if target.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def _secrets_out_of_query(url: URL) -> tuple[URL, dict[str, str]]:
    """The URL without secret query parameters, and those parameters as connect arguments:
    an engine's URL is printed by its repr and by error messages, so it holds none."""
    secrets = {
        name.lower(): value
        for name, value in url.query.items()
        if name.lower() in SECRET_PARAMETERS and isinstance(value, str)
    }
    if not secrets:
        return url, {}
    return url.difference_update_query(list(url.query)).update_query_dict(
        {k: v for k, v in url.query.items() if k.lower() not in SECRET_PARAMETERS}
    ), secrets


def read_only(engine: Engine) -> Engine:
    """The same engine, beginning its transactions as readers (DEFERRED on SQLite)."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def session_factory(bind: Engine | None = None) -> sessionmaker[Session]:
    """The one set of session settings: no autoflush, objects keep values after commit."""
    return sessionmaker(bind=bind, autoflush=False, expire_on_commit=False)


if TYPE_CHECKING:
    # Made on first read by ``__getattr__`` below; declared here for type checkers.
    engine: Engine
    SessionLocal: sessionmaker[Session]

_default_engine: Engine | None = None
_default_sessions: sessionmaker[Session] | None = None


def default_engine() -> Engine:
    """The engine for ``DATABASE_URL``, made on first use: importing opens nothing."""
    global _default_engine
    if _default_engine is None:
        _default_engine = make_engine()
    return _default_engine


def default_sessions() -> sessionmaker[Session]:
    global _default_sessions
    if _default_sessions is None:
        _default_sessions = session_factory(default_engine())
    return _default_sessions


def __getattr__(name: str) -> Any:
    # The story's module-level ``engine`` and ``SessionLocal``, built when first read so
    # that importing the models (or this module) reads no environment.
    if name == "engine":
        return default_engine()
    if name == "SessionLocal":
        return default_sessions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_db() -> Iterator[Session]:
    """FastAPI dependency: one session per request, always closed."""
    make_session = globals().get("SessionLocal") or default_sessions()
    db = make_session()
    try:
        yield db
    finally:
        db.close()


@contextmanager
def session_scope(bind: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error, always closes."""
    session = session_factory(bind)() if bind else default_sessions()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
