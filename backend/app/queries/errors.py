"""Why a read could not answer; messages name the key or argument and its value."""

from __future__ import annotations


class ReadError(ValueError):
    """A read asked for something that does not exist or makes no sense."""


class NotFound(ReadError):
    """The key a read was given names no row."""


class InvalidReadArgument(ReadError):
    """An argument outside the range the data allows (e.g. a week beyond the horizon)."""


class DamagedRows(ReadError):
    """Rows the read needs hold values of the wrong type (SQLite stores what it is given):
    an answer from them would be wrong, so the read refuses and names them."""
