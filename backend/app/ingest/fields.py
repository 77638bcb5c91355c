"""Typed values from CSV text, each refusal a message that says what is wrong.

Hand-written per column type rather than a pydantic model per row: on a 10-million
row file the per-row cost of a model dominates the whole import. The common case
(plain digits, an ISO date already seen) is a test and a dictionary lookup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TypeVar

from backend.app.ingest.normalize import unneutralize
from backend.app.ingest.problems import ProblemLog
from backend.app.models.keys import KEY_EDGE_WHITESPACE, KEY_MAX_LENGTH, key_problem

T = TypeVar("T")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# The models' Integer columns are INTEGER (32-bit) on PostgreSQL.
INTEGER_MAX = 2**31 - 1
_MAX_PLAIN_DIGITS = 18  # int() of at most this many digits is cheap and bounded


class FieldError(ValueError):
    """Why a value does not fit its column."""


def parsed(
    log: ProblemLog, line: int, column: str, raw: str, parse: Callable[[str], T]
) -> T | None:
    """``parse(raw)``, or None with the refusal added to ``log`` as ``line``'s problem in
    ``column``: how every importer reads a field."""
    try:
        return parse(raw)
    except FieldError as error:
        log.add(line, column, str(error), raw)
        return None


def whole_number(
    text: str, *, minimum: int | None = 0, maximum: int = INTEGER_MAX, what: str = "value"
) -> int:
    """A whole number; ``12`` and ``12.0`` are, ``1.5``, ``-3`` (below minimum), ``x`` are not.

    Checked against ``maximum`` (PostgreSQL's INTEGER by default, which SQLite would
    accept silently) so both backends refuse the same values as a problem line.
    """
    value = text.strip()
    if value.isdigit() and value.isascii() and len(value) <= _MAX_PLAIN_DIGITS:
        number = int(value)
    else:
        if not value:
            raise FieldError("empty, expected a whole number")
        if not _DECIMAL.fullmatch(value):
            raise FieldError("not a number, expected a whole number")
        # Decimal, not float: "9007199254740993.0" must not round to another number, and
        # "1e999999" must not be expanded digit by digit.
        exact = Decimal(value)
        if exact.adjusted() > _MAX_PLAIN_DIGITS:
            raise FieldError(f"too large, expected at most {maximum}")
        if exact != exact.to_integral_value():
            raise FieldError("fractional value, expected a whole number")
        number = int(exact)
    if number > maximum:
        raise FieldError(f"too large, expected at most {maximum}")
    if minimum is not None and number < minimum:
        if minimum == 0:
            raise FieldError(f"negative {what}, expected 0 or more")
        raise FieldError(f"{what} below {minimum}")
    return number


def real_number(text: str, *, minimum: float | None = 0.0) -> float:
    value = text.strip()
    if not value:
        raise FieldError("empty, expected a number")
    if not _DECIMAL.fullmatch(value):
        raise FieldError("not a number")
    number = float(value)
    if not math.isfinite(number):
        raise FieldError("not a finite number")
    if minimum is not None and number < minimum:
        raise FieldError(f"negative value, expected {minimum:g} or more")
    return number


def iso_date(text: str) -> date:
    value = text.strip()
    if not _ISO_DATE.fullmatch(value):
        raise FieldError("not a date, expected YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError("impossible date") from None


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FieldError("not a boolean, expected True or False")


def trimmed_name(text: str) -> str:
    """A name that ids are derived from: surrounding spaces dropped, spreadsheet escaping
    undone, not empty; any length (the id made from it is bounded)."""
    value = unneutralize(text.strip())
    if not value:
        raise FieldError("empty")
    return value


def identifier(text: str) -> str:
    """An id: edge whitespace (``KEY_EDGE_WHITESPACE``, what ``str.strip()`` drops)
    trimmed, spreadsheet escaping undone, and then what every backend's key CHECK
    allows (models/keys.py): 1 to KEY_MAX_LENGTH characters, no edge whitespace. The
    schema refuses an id with edge whitespace, so the trim never changes a stored id."""
    value = unneutralize(text.strip(KEY_EDGE_WHITESPACE))
    if not value:
        raise FieldError("empty")
    if len(value) > KEY_MAX_LENGTH:
        raise FieldError(f"{len(value)} characters, an id has at most {KEY_MAX_LENGTH}")
    problem = key_problem(value)  # e.g. "'\tS1": the escaped tab is an edge again
    if problem is not None:
        raise FieldError(problem)
    return value


def exact_text(text: str) -> str:
    """A name or other free text exactly as written (edge spaces, line breaks, the empty
    text), spreadsheet escaping undone: what an export wrote, read back unchanged."""
    return unneutralize(text)


def number_text(value: float) -> str:
    """A float as the shortest text that reads back equal; whole values without ``.0``."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
