"""Typed values from CSV text, each refusal a message that says what is wrong.

Hand-written per column type rather than a pydantic model per row: on a 10-million
row file the per-row cost of a model dominates the whole import. The common case
(plain digits, an ISO date already seen) is a test and a dictionary lookup.
"""

from __future__ import annotations

import math
import re
from datetime import date

from backend.app.ingest.normalize import unneutralize

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class FieldError(ValueError):
    """Why a value does not fit its column."""


def whole_number(text: str, *, minimum: int | None = 0, what: str = "value") -> int:
    """A whole number; ``12`` and ``12.0`` are, ``1.5``, ``-3`` (below minimum), ``x`` are not."""
    value = text.strip()
    if value.isdigit() and value.isascii():
        number = int(value)
    else:
        if not value:
            raise FieldError("empty, expected a whole number")
        if not _DECIMAL.fullmatch(value):
            raise FieldError("not a number, expected a whole number")
        real = float(value)
        if not math.isfinite(real) or real != math.floor(real):
            raise FieldError("fractional value, expected a whole number")
        number = int(real)
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


def identifier(text: str) -> str:
    """An id or name: surrounding spaces dropped, spreadsheet escaping undone, not empty."""
    value = unneutralize(text.strip())
    if not value:
        raise FieldError("empty")
    return value


def number_text(value: float) -> str:
    """A float as the shortest text that reads back equal; whole values without ``.0``."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
