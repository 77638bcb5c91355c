"""``ffdb erd`` and ``ffdb schema-doc``: generated from the models; committed copies are fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.app.database.base import Base
from backend.app.maintenance import erd, schema_doc
from backend.tests.support.cli import run_ffdb

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_erd_is_up_to_date() -> None:
    committed = (DOCS / "erd.md").read_text(encoding="utf-8")
    assert committed == erd.markdown(), f"docs/erd.md is stale: run `{erd.REGENERATE}`"


def test_committed_schema_reference_is_up_to_date() -> None:
    committed = (DOCS / "schema.md").read_text(encoding="utf-8")
    assert committed == schema_doc.markdown(), (
        f"docs/schema.md is stale: run `{schema_doc.REGENERATE}`"
    )


def test_erd_draws_every_table_and_foreign_key() -> None:
    diagram = erd.mermaid()
    assert diagram.startswith("erDiagram")
    for table in Base.metadata.tables.values():
        assert f"  {table.name} {{" in diagram
        for fk in table.foreign_key_constraints:
            column = fk.elements[0].parent.name
            # A key that is also the primary key is one-to-one (store_extra_attributes).
            many = "o|" if fk.elements[0].parent.primary_key else "o{"
            assert f"{fk.referred_table.name} ||--{many} {table.name} : {column}" in diagram


def test_erd_prints_mermaid_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "erd")
    assert result.exit_code == 0
    assert result.stdout == erd.mermaid()


def test_erd_writes_markdown_or_bare_mermaid_by_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "out" / "erd.md"
    result = run_ffdb(capsys, "erd", "--output", str(page))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {page}"
    assert page.read_text(encoding="utf-8") == erd.markdown()
    assert "```mermaid\nerDiagram" in erd.markdown()
    source = tmp_path / "erd.mmd"
    assert run_ffdb(capsys, "erd", "-o", str(source)).exit_code == 0
    assert source.read_text(encoding="utf-8") == erd.mermaid()


def test_erd_to_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_ffdb(capsys, "erd", "--output", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_schema_doc_lists_columns_constraints_and_indexes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "schema.md"
    assert run_ffdb(capsys, "schema-doc", "--output", str(target)).exit_code == 0
    page = target.read_text(encoding="utf-8")
    assert page == schema_doc.markdown()
    for table in Base.metadata.tables:
        assert f"\n## {table}\n" in page
    assert "| `created_at` | `DATETIME` | `TIMESTAMP WITH TIME ZONE` | yes | `now()` |  |" in page
    assert "| `cluster_id` | `VARCHAR` | `VARCHAR` | no |  | FK -> store_clusters.cluster_id |" in (
        page
    )
    assert "| `ck_stores_store_size_sqft` | check | `store_size_sqft > 0` |" in page
    assert "| `fk_stores_cluster_id_store_clusters` | foreign key |" in page
    assert "| `idx_historical_sales_store_category` | (store_id, category_id) | no |" in page
    assert "'NORTHEAST', 'SOUTHEAST', 'MIDWEST', 'WEST'" in page  # enum CHECK, values in full


def test_readme_shows_the_current_diagram() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{erd.mermaid()}```\n" in readme, (
        "README.md's diagram is stale: paste the output of `ffdb erd` into its mermaid block"
    )
