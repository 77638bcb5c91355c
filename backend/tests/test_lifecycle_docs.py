"""The lifecycle diagrams: drawn from the transition tables, the README copy is fresh,
and ``ffdb lifecycle`` prints or rewrites it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.app.schemas import lifecycles
from backend.tests.support.cli import run_ffdb

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_current_lifecycles() -> None:
    readme = README.read_text(encoding="utf-8")
    assert lifecycles.markdown_section() in readme, (
        "README.md's lifecycle diagrams are stale: run `ffdb lifecycle --readme README.md`"
    )


def test_the_diagrams_draw_exactly_the_issues_moves() -> None:
    workflow = lifecycles.mermaid(lifecycles.WORKFLOW_LIFECYCLE).splitlines()
    assert workflow[0] == "stateDiagram-v2"
    edges = {tuple(line.split(" --> ")) for line in workflow[1:]}
    unfinished = ("pending", "running", "awaiting_approval")
    assert edges == {
        ("    [*]", "pending"),
        ("    pending", "running"),
        ("    running", "awaiting_approval"),
        ("    awaiting_approval", "running"),
        ("    running", "completed"),
        *((f"    {state}", end) for state in unfinished for end in ("failed", "cancelled")),
        *((f"    {state}", "[*]") for state in ("completed", "failed", "cancelled")),
    }
    markdown = lifecycles.mermaid(lifecycles.MARKDOWN_LIFECYCLE).splitlines()[1:]
    assert {tuple(line.split(" --> ")) for line in markdown} == {
        ("    [*]", "pending"),
        ("    pending", "approved"),
        ("    approved", "applied"),
        ("    pending", "rejected"),
        ("    applied", "[*]"),
        ("    rejected", "[*]"),
    }


def test_ffdb_lifecycle_prints_and_rewrites_the_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = run_ffdb(capsys, "lifecycle")
    assert printed.exit_code == 0
    assert printed.stdout == lifecycles.markdown_section() + "\n"
    page = tmp_path / "page.md"
    stale = f"intro\n{lifecycles.LIFECYCLE_DOC_BEGIN}\nold\n{lifecycles.LIFECYCLE_DOC_END}\nend\n"
    page.write_text(stale, encoding="utf-8")
    result = run_ffdb(capsys, "lifecycle", "--readme", str(page))
    assert result.exit_code == 0, result.output
    assert page.read_text(encoding="utf-8") == f"intro\n{lifecycles.markdown_section()}\nend\n"
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n", encoding="utf-8")
    refused = run_ffdb(capsys, "lifecycle", "--readme", str(bare))
    assert refused.exit_code == 1
    assert "no generated lifecycle block" in refused.output
    assert bare.read_text(encoding="utf-8") == "no markers\n"
