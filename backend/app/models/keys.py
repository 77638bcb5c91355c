"""The rule on every string key: the one place that says what an id may be.

Every string primary-key and foreign-key column holds 1 to ``KEY_MAX_LENGTH``
characters and neither begins nor ends with a character of ``KEY_EDGE_WHITESPACE``, by
a named CHECK (``ck_<table>_<column>_length``) on every backend:

- the length: SQLite would store a 10,000-character id that PostgreSQL's indexes then
  refuse, and such a database could no longer be transferred;
- the edges: the importers trim every field, so an id stored as ``" S1"`` would come
  back from export and import as ``"S1"``, another key. Refusing it in the schema
  makes export then import the identity for every key the database can hold.

``KEY_EDGE_WHITESPACE`` is exactly the characters Python's ``str.strip()`` removes (those
``str.isspace()`` calls whitespace: ASCII space, tab, LF, CR, VT, FF, the separators
U+001C..U+001F, NEL, no-break space and the Unicode spaces and line separators), so the
importers' trim and the schema agree; ``key_problem`` is the Python form of the CHECK
that the importers and the write API ask before the database does. Inner whitespace
and any other character (zero-width space, BOM, emoji, combining marks) are kept.

The CHECK's SQL differs by dialect only in how the character set is written (SQLite
``char(9, 10, ...)``, PostgreSQL a ``U&''`` literal), so no raw control character lands
in a schema's text; ``key_rule_sql`` is the one function that writes it. The ids the
layer derives from names and natural keys (``maintenance.definitions``) are shortened
to fit the same bound and have no edge whitespace.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Column, MetaData, String, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

KEY_MAX_LENGTH = 128

# Written out (a test checks it is exactly what str.isspace() accepts, in code point order).
KEY_EDGE_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def has_edge_whitespace(value: str) -> bool:
    """True when ``value`` begins or ends with a character of ``KEY_EDGE_WHITESPACE``."""
    return value != value.strip(KEY_EDGE_WHITESPACE)


def key_problem(value: str) -> str | None:
    """Why ``value`` cannot be a key (what the CHECK would refuse), or None."""
    if not 1 <= len(value) <= KEY_MAX_LENGTH:
        return f"{len(value)} characters, a key has 1 to {KEY_MAX_LENGTH}"
    if has_edge_whitespace(value):
        return "begins or ends with whitespace, which a key may not (it would not survive a trim)"
    return None


def key_rule_holds(column: Any) -> bool:
    """The CHECK over a whole Arrow string column, by compute kernels: True when every
    value is a key (the fast import paths prove this instead of SQLite's row-by-row
    CHECK). Nulls are not asked about: the NOT NULL constraints refuse those."""
    import pyarrow.compute as pc

    if not len(column):
        return True
    shortest, longest = pc.min_max(pc.utf8_length(column)).values()
    if shortest.as_py() < 1 or longest.as_py() > KEY_MAX_LENGTH:
        return False
    trimmed = pc.utf8_trim(column, characters=KEY_EDGE_WHITESPACE)
    return bool(pc.all(pc.equal(trimmed, column)).as_py())


def _edge_set_sql(dialect: str) -> str:
    codes = [ord(character) for character in KEY_EDGE_WHITESPACE]
    if dialect == "postgresql":
        return "U&'" + "".join(f"\\{code:04X}" for code in codes) + "'"
    return f"char({', '.join(map(str, codes))})"


def key_rule_sql(column: str, dialect: str, *, nullable: bool = False) -> str:
    """The CHECK's SQL for key ``column`` on ``dialect`` ("sqlite" or "postgresql"):
    the length bound, and the value unchanged by trimming the edge whitespace (NULL
    passes a nullable key, as it would pass any CHECK; said outright for readers)."""
    trim = "btrim" if dialect == "postgresql" else "trim"
    rule = (
        f"length({column}) BETWEEN 1 AND {KEY_MAX_LENGTH} "
        f"AND {trim}({column}, {_edge_set_sql(dialect)}) = {column}"
    )
    return f"{column} IS NULL OR ({rule})" if nullable else rule


class KeyRule(ColumnElement[bool]):
    """``key_rule_sql`` as an expression: a CHECK's text, and a query's condition (the
    doctor looks for rows that break it), written for whichever dialect compiles it."""

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012  (SQLAlchemy's own class attribute)
        ("column", InternalTraversal.dp_string),
        ("nullable", InternalTraversal.dp_boolean),
    ]
    type = Boolean()

    def __init__(self, column: str, *, nullable: bool = False) -> None:
        self.column = column
        self.nullable = nullable


@compiles(KeyRule)
def _compile_key_rule(element: KeyRule, compiler: Any, **_: Any) -> str:
    return key_rule_sql(element.column, compiler.dialect.name, nullable=element.nullable)


def key_columns(table: Table) -> list[Column[str]]:
    """The table's string columns that are part of its primary key or of a foreign key."""
    return [
        column
        for column in table.columns
        if (column.primary_key or column.foreign_keys) and isinstance(column.type, String)
    ]


def key_length_check(column: str, *, nullable: bool = False) -> CheckConstraint:
    """A CHECK named ``ck_<table>_<column>_length`` by the naming convention: for a model
    to hold a string column that is not a key (a run's season, an actor) to the key
    rule (``add_key_length_checks`` does the keys)."""
    return CheckConstraint(KeyRule(column, nullable=nullable), name=f"{column}_length")


def add_key_length_checks(metadata: MetaData) -> None:
    """Give every string key column of every table its key CHECK (once)."""
    for table in metadata.tables.values():
        present = {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        for column in key_columns(table):
            name = f"{column.name}_length"
            if f"ck_{table.name}_{name}" not in present and name not in present:
                table.append_constraint(key_length_check(column.name))
