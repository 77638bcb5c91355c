"""Run a unit of work in a transaction, retrying it after transient database faults.

A transient fault is one where the same work, run again a moment later, can succeed:
a SQLite database still locked after the busy timeout, a PostgreSQL serialization
failure or deadlock, a connection the server dropped (restart, failover,
``pg_terminate_backend``). Each failed attempt is rolled back before the next one, so
a retried unit of work starts from the committed state. Everything else (integrity,
data and programming errors) is raised at once: running it again would fail the same
way, or worse, do something twice.

The whole unit of work is retried, not the failed statement: a transaction cannot be
resumed on a new connection. So ``work`` must do all its reads and writes through the
session or connection it is given, and have no effects outside the database that must
not happen twice.

A connection lost while COMMIT is in flight leaves the outcome unknown: the server
may have committed. Units of work that insert rows under their own keys are safe: the
retry then fails with an IntegrityError naming the key, which is not retried.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.app.database.db import session_factory

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BASE_DELAY",
    "DEFAULT_MAX_DELAY",
    "DEFAULT_POLICY",
    "RetriesExhausted",
    "RetryPolicy",
    "backoff_delay",
    "retry_transient",
    "run_connection_with_retries",
    "run_with_retries",
    "transient_fault",
]

T = TypeVar("T")
OnRetry = Callable[[int, BaseException, float], None]
Sleep = Callable[[float], None]

DEFAULT_ATTEMPTS = 5
DEFAULT_BASE_DELAY = 0.05
DEFAULT_MAX_DELAY = 2.0

logger = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs after which the same transaction can succeed if run again.
_TRANSIENT_SQLSTATES = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "57P01": "server terminated the connection (admin shutdown)",
    "57P02": "server terminated the connection (crash shutdown)",
    "57P03": "server cannot accept connections yet",
}
# Class 08: connection exceptions (refused, broken, lost).
_CONNECTION_CLASS = "08"
# SQLite primary result codes: SQLITE_BUSY (another connection holds the lock past the
# busy timeout) and SQLITE_LOCKED (a conflicting lock in the same process).
_SQLITE_BUSY_CODES = {5, 6}
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


class RetriesExhausted(RuntimeError):
    """A transient fault persisted through every attempt; ``last_error`` is the final one."""

    def __init__(self, attempts: int, reason: str, last_error: BaseException) -> None:
        super().__init__(
            f"gave up after {attempts} attempt(s): {reason} "
            f"({type(last_error).__name__}); the transaction was rolled back each time"
        )
        self.attempts = attempts
        self.reason = reason
        self.last_error = last_error


def _driver_error(error: BaseException) -> BaseException:
    """The DBAPI exception under SQLAlchemy's wrapper, or the error itself."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return error.orig
    return error


def _sqlite_fault(error: sqlite3.Error) -> str | None:
    if not isinstance(error, sqlite3.OperationalError):
        return None  # IntegrityError, DataError, ProgrammingError ... never transient
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _SQLITE_BUSY_CODES:
        return f"SQLite: {str(error).strip() or 'database is locked'}"
    message = str(error).lower()
    if any(text in message for text in _SQLITE_BUSY_MESSAGES):
        return f"SQLite: {message}"
    return None


def _postgres_fault(error: Any) -> str | None:
    import psycopg

    state = error.sqlstate
    if state in _TRANSIENT_SQLSTATES:
        return f"PostgreSQL {state}: {_TRANSIENT_SQLSTATES[state]}"
    if state is not None and state.startswith(_CONNECTION_CLASS):
        return f"PostgreSQL {state}: connection failure"
    if state is None and isinstance(error, psycopg.OperationalError):
        # Raised by the client, not the server: the connection broke or never opened.
        return "PostgreSQL: connection lost"
    return None


def transient_fault(error: BaseException) -> str | None:
    """Why ``error`` is worth retrying after a rollback, or None when it is not."""
    driver = _driver_error(error)
    if isinstance(driver, sqlite3.Error):
        return _sqlite_fault(driver)
    # psycopg is loaded only by a PostgreSQL connection: without it in sys.modules the
    # error cannot be one of its own (and SQLite-only commands never pay its import).
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(driver, psycopg.Error):
        return _postgres_fault(driver)
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "connection lost"
    return None


def backoff_delay(
    attempt: int, base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, jittered.

    Half the exponential step is fixed, half is random ("equal jitter"), so competing
    writers spread out yet every retry waits at least a little.
    """
    step = min(max_delay, base_delay * 2.0 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 (jitter, not security)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a unit of work is retried: the one set of settings."""

    attempts: int = DEFAULT_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    on_retry: OnRetry | None = None  # called as on_retry(attempt, error, delay) before waiting
    sleep: Sleep | None = None  # None: time.sleep, looked up when needed

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")

    def run(self, attempt_once: Callable[[], T]) -> T:
        """Call ``attempt_once`` until it returns, retrying only transient faults."""
        for attempt in range(1, self.attempts + 1):
            try:
                return attempt_once()
            except Exception as error:
                reason = transient_fault(error)
                if reason is None:
                    raise
                if attempt == self.attempts:
                    raise RetriesExhausted(self.attempts, reason, error) from error
                delay = backoff_delay(attempt, self.base_delay, self.max_delay)
                logger.warning(
                    "transient database fault on attempt %d of %d (%s); retrying in %.3fs",
                    attempt,
                    self.attempts,
                    reason,
                    delay,
                )
                if self.on_retry is not None:
                    self.on_retry(attempt, error, delay)
                (self.sleep or time.sleep)(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


DEFAULT_POLICY = RetryPolicy()


def _rollback_quietly(rollback: Callable[[], None]) -> None:
    """Roll back a failed attempt; a rollback on a dead connection must not hide the fault."""
    try:
        rollback()
    except Exception:  # the original error is what the caller needs
        logger.debug("rollback after a failed attempt failed too", exc_info=True)


def run_with_retries(
    engine: Engine,
    work: Callable[[Session], T],
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """Run ``work`` in a new session and commit; retry transient faults after a rollback.

    Returns what ``work`` returns (objects stay loaded after the commit). Raises
    non-transient errors at once, and ``RetriesExhausted`` (with the last error as its
    cause) when every attempt met a transient fault, as ``policy`` says.
    """

    def attempt_once() -> T:
        session = session_factory(engine)()
        try:
            result = work(session)
            session.commit()
            return result
        except BaseException:
            _rollback_quietly(session.rollback)
            raise
        finally:
            session.close()

    return policy.run(attempt_once)


def retry_transient(action: Callable[[], T], policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """Retry an ``action`` that owns its transaction (and rolls it back when it fails)."""
    return policy.run(action)


def run_connection_with_retries(
    engine: Engine,
    work: Callable[[Connection], T],
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """``run_with_retries`` for Core work: ``work`` gets a connection inside a transaction."""

    def attempt_once() -> T:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                result = work(connection)
                transaction.commit()
                return result
            except BaseException:
                _rollback_quietly(transaction.rollback)
                raise

    return policy.run(attempt_once)
