"""The record of what a database at head looks like, so that the commands that only
compare a database with it (``ffdb check``, ``ffdb stats``) load neither Alembic nor
the models.

Comparing a database with the models (Alembic's autogenerate: load Alembic and every
model, reflect every table) is most of what ``ffdb check`` costs. The record
(``backend/migrations/head_schema.json``) holds, for each backend, a digest of the
catalogue of a fresh database migrated to head that this same comparison passed, and
the models' tables in dependency order. A database whose catalogue has that digest
has that schema, so the comparison would pass again and need not run.

The record says which sources it was made from (models, payload shapes, migrations,
the comparison's own code, the SQLAlchemy and Alembic versions): when any of them
changes it no longer applies and every check runs in full until ``make docs`` writes
it again. It can make a check faster, never change its answer; a test on each backend
keeps the committed record current.

``python -m backend.app.maintenance.head_schema [--postgres-url URL]`` writes it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

from backend.app.maintenance.schema_version import BACKEND_DIR, MIGRATIONS_DIR, head_revision

RECORD_PATH = MIGRATIONS_DIR / "head_schema.json"

# Everything that decides what the migrations build and what the comparison accepts.
_SOURCES = (
    "app/models/*.py",
    "app/schemas/*.py",
    "app/database/base.py",
    "app/maintenance/head_schema.py",
    "app/maintenance/integrity.py",
    "app/maintenance/migrate.py",
    "migrations/env.py",
    "migrations/versions/*.py",
)
_LIBRARIES = ("sqlalchemy", "alembic")

# One row per object: (kind, owner, definition), sorted; the digest is over these.
_SQLITE_CATALOGUE = (
    "SELECT type, tbl_name, name || ' ' || coalesce(sql, '') FROM sqlite_master "
    "WHERE name NOT LIKE 'sqlite_%' ORDER BY 1, 2, 3"
)
# A table's constraint clauses, in whatever order its CREATE TABLE gave them.
_CONSTRAINT_WORDS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")
_POSTGRESQL_CATALOGUE = """
SELECT 'relation', c.relname, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT 'column', c.relname, concat_ws(' ', a.attnum, a.attname,
    format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', c.relname,
    concat_ws(' ', con.conname, pg_get_constraintdef(con.oid), con.convalidated)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
UNION ALL
SELECT 'index', c.relname, concat_ws(' ', pg_get_indexdef(i.indexrelid), i.indisvalid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
UNION ALL
SELECT 'trigger', c.relname, pg_get_triggerdef(t.oid)
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT t.tgisinternal
ORDER BY 1, 2, 3
"""
_CATALOGUES = {"sqlite": _SQLITE_CATALOGUE, "postgresql": _POSTGRESQL_CATALOGUE}


@dataclass(frozen=True)
class HeadSchema:
    revision: str
    sources: str  # digest of the source files the record was made from
    libraries: dict[str, str]  # and the library versions
    tables: tuple[str, ...]  # the models' tables, parents before children
    catalogues: dict[str, str]  # backend -> digest of a fresh head database's catalogue


def sources_digest() -> str:
    """A digest of the files that decide the schema at head and the comparison."""
    digest = hashlib.sha256()
    for pattern in _SOURCES:
        for path in sorted(BACKEND_DIR.glob(pattern)):
            digest.update(path.relative_to(BACKEND_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries that build and compare the schema."""
    from importlib.metadata import version

    return {library: version(library) for library in _LIBRARIES}


def catalogue_digest(connection: Connection) -> str | None:
    """A digest of the schema objects of the database (None: a backend we do not know)."""
    query = _CATALOGUES.get(connection.dialect.name)
    if query is None:
        return None
    digest = hashlib.sha256()
    for kind, owner, definition in connection.execute(text(query)):
        if connection.dialect.name == "sqlite" and kind == "table":
            definition = _constraints_sorted(str(definition))
        digest.update(f"{kind}\t{owner}\t{definition}\n".encode())
    return digest.hexdigest()


def _constraints_sorted(create_table: str) -> str:
    """SQLite keeps a table's CREATE TABLE as it was issued, and a migration that
    rebuilds a table (Alembic's batch mode) lists the constraints in an order that
    changes from run to run: the columns keep their order, the constraints are sorted."""
    start, end = create_table.find("("), create_table.rfind(")")
    if start < 0 or end < start:
        return create_table
    items: list[str] = []
    item: list[str] = []
    depth, quote = 0, ""
    for char in create_table[start + 1 : end]:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(item).strip())
            item = []
            continue
        item.append(char)
    items.append("".join(item).strip())
    columns = [i for i in items if i.split(" ", 1)[0].upper() not in _CONSTRAINT_WORDS]
    constraints = sorted(i for i in items if i not in columns)
    return f"{create_table[:start]}({', '.join(columns + constraints)}){create_table[end + 1 :]}"


def read_record(path: Path) -> HeadSchema | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return HeadSchema(
            revision=str(data["revision"]),
            sources=str(data["sources"]),
            libraries={str(k): str(v) for k, v in data["libraries"].items()},
            tables=tuple(str(name) for name in data["tables"]),
            catalogues={str(k): str(v) for k, v in data["catalogues"].items()},
        )
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return None


@functools.cache
def current_record() -> HeadSchema | None:
    """The committed record, if it was made at today's head from today's sources with
    the libraries installed here."""
    record = read_record(RECORD_PATH)
    if record is None or record.revision != head_revision():
        return None
    if record.sources != sources_digest() or record.libraries != library_versions():
        return None
    return record


def matches_head(connection: Connection) -> bool:
    """Whether the database's schema is exactly the recorded one of a fresh database at
    head (which the full comparison passed); False says nothing either way."""
    record = current_record()
    if record is None:
        return False
    expected = record.catalogues.get(connection.dialect.name)
    return expected is not None and catalogue_digest(connection) == expected


def table_names() -> list[str]:
    """The models' tables, parents before children (from the record when it applies)."""
    record = current_record()
    if record is not None:
        return list(record.tables)
    from backend.app.models import tables_in_dependency_order

    return [table.name for table in tables_in_dependency_order()]


# --- writing the record -----------------------------------------------------------------


class RecordRefused(RuntimeError):
    """A fresh database at head does not pass the comparison: nothing to record."""


def _fresh_head_digest(url: URL) -> str:
    """Migrate the empty database at ``url`` to head, run the full comparison, and
    return its catalogue's digest."""
    from backend.app.database.db import make_engine
    from backend.app.maintenance import integrity, migrate

    migrate.upgrade(url, "head")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            problems = migrate.model_drift(connection) + integrity.missing_guards(connection)
            if problems:
                raise RecordRefused(
                    f"a fresh {connection.dialect.name} database at head differs from the "
                    f"models: {problems[0]}"
                )
            digest = catalogue_digest(connection)
    finally:
        engine.dispose()
    assert digest is not None
    return digest


def _postgresql_digest(admin_url: URL) -> str:
    from backend.app.database.db import make_engine

    name = f"ffdb_head_schema_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            return _fresh_head_digest(admin_url.set(database=name))
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.dispose()


def write_record(postgres_url: URL | None, path: Path = RECORD_PATH) -> HeadSchema:
    """Build a fresh database at head on SQLite (and PostgreSQL, at ``postgres_url``:
    a server where a scratch database may be created), and record their catalogues."""
    from backend.app.models import tables_in_dependency_order

    with tempfile.TemporaryDirectory(prefix="ffdb-head-schema-") as folder:
        catalogues = {"sqlite": _fresh_head_digest(make_url(f"sqlite:///{folder}/head.db"))}
    if postgres_url is not None:
        catalogues["postgresql"] = _postgresql_digest(postgres_url)
    record = HeadSchema(
        revision=head_revision(),
        sources=sources_digest(),
        libraries=library_versions(),
        tables=tuple(table.name for table in tables_in_dependency_order()),
        catalogues=catalogues,
    )
    body = {
        "about": "Written by `make docs` (backend/app/maintenance/head_schema.py); "
        "lets `ffdb check` skip the full comparison for a database at head.",
        "revision": record.revision,
        "sources": record.sources,
        "libraries": record.libraries,
        "tables": list(record.tables),
        "catalogues": record.catalogues,
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    current_record.cache_clear()
    return record


def main(arguments: list[str]) -> int:
    """``[--postgres-url URL | --no-postgres]``: PostgreSQL's digest is recorded too
    unless told not to (a check on PostgreSQL then always runs the full comparison)."""
    postgres: URL | None = make_url("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    if "--no-postgres" in arguments:
        postgres = None
    elif "--postgres-url" in arguments:
        postgres = make_url(arguments[arguments.index("--postgres-url") + 1])
    record = write_record(postgres)
    print(f"{RECORD_PATH}: head {record.revision}, {', '.join(sorted(record.catalogues))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
