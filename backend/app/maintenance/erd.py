"""The entity-relationship diagram, generated from the models by paracelsus (Mermaid).

``docs/erd.md`` is this module's output, committed so GitHub renders it as a picture;
a test regenerates it and fails when the committed copy is stale.
"""

from __future__ import annotations

from paracelsus.transformers.mermaid import Mermaid

from backend.app.models import metadata

REGENERATE = "ffdb erd --output docs/erd.md"


def mermaid() -> str:
    """The diagram as Mermaid ``erDiagram`` source: tables, keys and relationships."""
    return str(Mermaid(metadata, "key-based")).strip() + "\n"


def markdown() -> str:
    """The diagram wrapped in a Markdown page (GitHub renders the ``mermaid`` block)."""
    return (
        "# Entity-relationship diagram\n\n"
        f"Generated from the SQLAlchemy models by `{REGENERATE}`; do not edit by hand.\n"
        "PK primary key, FK foreign key, UK unique; `o{` many, `||` exactly one.\n\n"
        f"```mermaid\n{mermaid()}```\n"
    )


def render(suffix: str) -> str:
    """Markdown for a ``.md`` target, bare Mermaid otherwise (``.mmd``, stdout)."""
    return markdown() if suffix.lower() in (".md", ".markdown") else mermaid()
