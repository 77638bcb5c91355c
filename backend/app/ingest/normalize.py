"""Retailer spellings to schema values, stable ids from names, spreadsheet-safe text.

- Enum spellings: ``Mall``, ``mall``, ``Shopping Center``, ``shopping_center`` and
  ``ShoppingCenter`` all mean ``SHOPPING_CENTER``: case, spaces, hyphens and
  underscores are ignored when matching a value of the schema's enum.
- Ids from category names are ``maintenance.definitions.category_id_from_name``'s.
- Spreadsheet formulas: exported text that a spreadsheet would run as a formula
  (``=``, ``+``, ``-``, ``@``, tab, CR) is written with a leading ``'``; a leading
  ``'`` is doubled too, so the import can strip exactly one ``'`` and get the value back;
  the empty text is a lone ``'``, so it is not mistaken for an empty cell (no value).
"""

from __future__ import annotations

import enum
import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*FORMULA_TRIGGERS, "'")
_SEPARATORS = re.compile(r"[\s_\-]+")


def spelling_key(value: str) -> str:
    return _SEPARATORS.sub("", value).upper()


class EnumSpellings:
    """Matches retailer spellings of one enum's values."""

    def __init__(self, enum_class: type[enum.StrEnum]) -> None:
        self.enum_class = enum_class
        self.values = [member.value for member in enum_class]
        self._by_key = {spelling_key(value): value for value in self.values}

    def __call__(self, text: str) -> str | None:
        """The schema value ``text`` spells, or None."""
        return self._by_key.get(spelling_key(text))

    def expected(self) -> str:
        return ", ".join(self.values)


def display_name(value: str) -> str:
    """``SHOPPING_CENTER`` -> ``Shopping Center``; for names made from enum values."""
    return value.replace("_", " ").title()


def neutralize(text: str) -> str:
    """Text as a spreadsheet will not run it (and ``unneutralize`` gets it back).

    The empty text is written as a lone ``'``: an empty cell means "no value" (NULL, an
    extra attribute the store does not have), so the two stay apart in a CSV file.
    """
    if not text:
        return "'"
    return "'" + text if text.startswith(_ESCAPED_STARTS) else text


def unneutralize(text: str) -> str:
    """Undo ``neutralize``: strip one leading ``'`` that it would have added."""
    if text[:1] == "'" and (len(text) == 1 or text[1] in _ESCAPED_STARTS):
        return text[1:]
    return text
