"""The one per-backend cache of migrated databases: each is built once per session, then
copied for a test of its own or shared by tests that only read (or roll back).

A ``Recipe`` says what a cached database holds: the schema at head, then what its
``fill`` writes, on a new database or on a copy of its ``base`` recipe's. Building is
the slow part (migrations, the demo season); a copy is a SQLite file copy or a
PostgreSQL ``CREATE DATABASE ... TEMPLATE``. The built template itself is never handed
to a test, so no test's open connection can stop the next copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from backend.app.database.db import make_engine, normalize_url
from backend.tests.support import samples
from backend.tests.support.backends import PostgresDatabases, migrate


@dataclass(frozen=True)
class Recipe:
    """What a cached database holds: the schema at head, then what ``fill`` writes."""

    name: str
    fill: Callable[[Engine], None] | None = None
    # Start from a copy of this recipe's database instead of a new one.
    base: Recipe | None = None


HEAD = Recipe("head")
# Rows in all tables with what a copy could bend (transfer).
EVERY_TABLE = Recipe("every-table", lambda engine: samples.every_table().write(engine))
# The read tests' data; tests share it and must not write to it.
READS = Recipe("reads", samples.reads_database)
# The read tests' data plus filler rows of other categories, analyzed (query plans).
PLANNED = Recipe("planned", samples.add_filler, base=READS)


class DatabaseCache:
    """The cached databases of one backend: SQLite files in ``folder``, or databases on
    the PostgreSQL test server (``postgres``)."""

    def __init__(self, folder: Path, postgres: PostgresDatabases | None = None) -> None:
        self.folder = folder
        self.postgres = postgres
        self._templates: dict[Recipe, URL] = {}
        self._shared: dict[Recipe, URL] = {}

    @contextmanager
    def empty(self, sqlite_path: Path) -> Iterator[URL]:
        """A new, empty database (on SQLite at ``sqlite_path``), dropped afterwards."""
        url = self._new(sqlite_path)
        try:
            yield url
        finally:
            self._drop(url)

    @contextmanager
    def copy(self, recipe: Recipe, sqlite_path: Path) -> Iterator[URL]:
        """A database of the test's own made as ``recipe`` says (on SQLite at
        ``sqlite_path``), dropped afterwards."""
        url = self._copy(self._template(recipe), sqlite_path)
        try:
            yield url
        finally:
            self._drop(url)

    def shared(self, recipe: Recipe) -> URL:
        """One database made as ``recipe`` says, the same for every caller this session."""
        if recipe not in self._shared:
            path = self.folder / f"{recipe.name}-shared.db"
            self._shared[recipe] = self._copy(self._template(recipe), path)
        return self._shared[recipe]

    def close(self) -> None:
        for url in [*self._shared.values(), *self._templates.values()]:
            self._drop(url)
        self._shared.clear()
        self._templates.clear()

    def _template(self, recipe: Recipe) -> URL:
        if recipe not in self._templates:
            path = self.folder / f"{recipe.name}.db"
            if recipe.base is None:
                url = self._new(path)
                migrate(url)
            else:
                url = self._copy(self._template(recipe.base), path)
            if recipe.fill is not None:
                engine = make_engine(url)
                try:
                    recipe.fill(engine)
                finally:
                    engine.dispose()
            self._templates[recipe] = url
        return self._templates[recipe]

    def _new(self, sqlite_path: Path) -> URL:
        if self.postgres is None:
            return normalize_url(f"sqlite:///{sqlite_path}")
        return self.postgres.create()

    def _copy(self, source: URL, sqlite_path: Path) -> URL:
        if self.postgres is None:
            # The backup API copies what the WAL holds too, not only the main file.
            with (
                closing(sqlite3.connect(str(source.database))) as original,
                closing(sqlite3.connect(sqlite_path)) as copy,
            ):
                original.backup(copy)
            return normalize_url(f"sqlite:///{sqlite_path}")
        return self.postgres.create(template=source.database)

    def _drop(self, url: URL) -> None:
        # SQLite files live in pytest's temporary folders, kept for a look after a failure.
        if self.postgres is not None:
            self.postgres.drop(url)
