"""Length bounds of string key columns, as named CHECKs both backends enforce alike.

SQLite ignores a VARCHAR length and PostgreSQL's ``String`` here is unbounded TEXT,
so a key's length is bounded by a CHECK: the same refusal, naming the constraint, on
every backend and client. ``KEY_MAX_LENGTH`` equals ``definitions.KEY_MAX_LENGTH``
(the longest id the definitions make); a test holds them together.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint

KEY_MAX_LENGTH = 128


def key_length_sql(column: str, *, nullable: bool = False) -> str:
    """The CHECK text: 1..KEY_MAX_LENGTH characters (NULL passes a nullable key)."""
    bounded = f"length({column}) >= 1 AND length({column}) <= {KEY_MAX_LENGTH}"
    return f"{column} IS NULL OR ({bounded})" if nullable else bounded


def key_length_check(column: str, *, nullable: bool = False) -> CheckConstraint:
    """A CHECK named ``ck_<table>_<column>_length`` by the naming convention."""
    return CheckConstraint(key_length_sql(column, nullable=nullable), name=f"{column}_length")
