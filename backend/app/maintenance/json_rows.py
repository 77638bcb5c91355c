"""Expand a JSON array column into rows inside the database, on either backend.

SQLite has ``json_each``, PostgreSQL ``jsonb_array_elements``; both are table-valued
functions that may refer to a column of a table earlier in the FROM list (SQLite
always allows it; PostgreSQL treats functions in FROM as implicitly LATERAL), so
``select_from(table).join(elements.rows, true())`` expands each row's array. The
element fields are read with ``json_extract`` / ``->>`` and cast to SQL types here, so
callers write one statement for both backends.

It sits in ``maintenance`` because the shared definitions (``definitions.py``: the
stores an allocation ships to) and the reads both expand allocation splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, case, cast, func, literal, type_coerce
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.selectable import TableValuedAlias

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
# A Core column expression or an ORM attribute such as ``Allocation.store_allocations``.
ColumnLike = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class JsonArrayRows:
    """The rows of a JSON array of objects, with typed accessors for the objects' fields."""

    rows: TableValuedAlias
    dialect: str

    def _field_text(self, key: str) -> ColumnElement[Any]:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB  # only PostgreSQL pays its load

            element: ColumnElement[Any] = type_coerce(self.rows.c.value, JSONB)[key].astext
            return element
        # json_each's ``value`` is the element's JSON text; the path is a bound parameter.
        return func.json_extract(self.rows.c.value, f"$.{key}")

    def integer(self, key: str) -> ColumnElement[int]:
        return cast(self._field_text(key), BigInteger)

    def text(self, key: str) -> ColumnElement[str]:
        return cast(self._field_text(key), String)


def json_array_rows(column: ColumnLike, dialect: str, name: str) -> JsonArrayRows:
    """``column``'s JSON array as a FROM element called ``name``, one row per element.

    A value that is not an array (damage only a raw write can do; ``ffdb doctor``
    reports it) reads as an empty array: PostgreSQL would raise, SQLite would iterate
    an object's members.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB  # only PostgreSQL pays its load

        array = case(
            (func.jsonb_typeof(column) == "array", column), else_=cast(literal("[]"), JSONB)
        )
        rows = func.jsonb_array_elements(array).table_valued("value", name=name)
    elif dialect == "sqlite":
        array = case((func.json_type(column) == "array", column), else_=literal("[]"))
        rows = func.json_each(array).table_valued("value", name=name)
    else:
        raise NotImplementedError(
            f"JSON reads support {', '.join(SUPPORTED_DIALECTS)}; this database is {dialect}"
        )
    return JsonArrayRows(rows=rows, dialect=dialect)
