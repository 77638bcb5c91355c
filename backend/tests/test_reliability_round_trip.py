"""Export then import is the identity for every value the schema can hold (issue 12, 7).

Stores with names a careless spreadsheet would bend (edge spaces, CR and LF inside,
the empty name, text that starts like a formula, a lone quote), ids with inner spaces
and unusual Unicode, and extra attributes
that only some stores have (an empty one is not a missing one) are exported from one
database, imported into a new one and exported again: the rows and the files agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from backend.app.ingest.normalize import neutralize, unneutralize
from backend.tests.support.cli import run_ffdb
from backend.tests.support.databases import HEAD, DatabaseCache
from backend.tests.support.rows import SampleRows
from backend.tests.support.sql import query_rows

NAMES = {
    "S01": "  Padded  ",
    "S02": "Line\r\nBreak and a lone\rCR",
    "S03": "",
    "S04": "=SUM(A1:A9)",
    "S05": "'quoted",
    "S06": "-3",
    "S07": "@home\t",
    "S08": "\ttab first",
    "S09": 'Plain, with a comma and "quotes"',
    # Every id the schema can hold comes back as it was: inner whitespace of any kind,
    # text that starts like a formula or with a quote, and Unicode beyond Latin-1
    # (combining marks, a zero-width space, a BOM, right-to-left, an emoji). Only edge
    # whitespace is out, and the schema refuses it (test_key_lengths.py).
    "S 10  inner": "inner spaces",
    "S\t11\r\n12": "inner tab and line break",
    "S\u00a013\u3000x": "inner no-break and ideographic spaces",
    "=S14+1": "an id like a formula",
    "'S15": "an id with a leading quote",
    "-16": "an id like a negative number",
    "Cafe\u0301 \u05e9\u05dc\u05d5\u05dd \u5e97\u8217 \U0001f642": "mixed scripts",
    "\u200bS17\ufeff": "zero-width space and BOM at the edges, not whitespace",
}
EXTRAS: dict[str, dict[str, Any]] = {
    "S01": {"only_here": "v", "foot_traffic": 10},
    "S02": {"empty": ""},
    "S04": {"only_here": "  spaced  ", "note": "=1+1"},
    "S05": {"note": "'"},
    "=S14+1": {"note": "an extra of an id like a formula"},
    "S\u00a013\u3000x": {"only_here": "inner Unicode spaces"},
}


def _season() -> SampleRows:
    rows = SampleRows()
    rows.add("store_clusters", cluster_id="CL-PREMIUM", fashion_tier="PREMIUM")
    for store_id, name in NAMES.items():
        rows.add("stores", store_id=store_id, store_name=name, cluster_id="CL-PREMIUM")
        if store_id in EXTRAS:
            rows.add("store_extra_attributes", store_id=store_id, attributes=EXTRAS[store_id])
    return rows


def _stores(url: URL) -> list[tuple[Any, ...]]:
    return query_rows(
        url,
        "SELECT store_id, store_name, store_size_sqft, location_tier, median_income, "
        "store_format, region, avg_weekly_sales_12mo FROM stores ORDER BY store_id",
    )


def _extras(url: URL) -> dict[str, Any]:
    found = {}
    for store_id, attributes in query_rows(
        url, "SELECT store_id, attributes FROM store_extra_attributes"
    ):
        found[store_id] = json.loads(attributes) if isinstance(attributes, str) else attributes
    return found


def test_stores_survive_export_then_import_unchanged(
    database_cache: DatabaseCache,
    migrated_url: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _season().write(migrated_url)
    first = tmp_path / "first.csv"
    second = tmp_path / "second.csv"
    exported = run_ffdb(capsys, "export", "stores", "-o", first, "--database-url", migrated_url)
    assert exported.exit_code == 0, exported.output

    with database_cache.copy(HEAD, tmp_path / "other.db") as other:
        imported = run_ffdb(capsys, "import", "stores", first, "--database-url", other)
        assert imported.exit_code == 0, imported.output
        again = run_ffdb(capsys, "export", "stores", "-o", second, "--database-url", other)
        assert again.exit_code == 0, again.output

        assert _stores(other) == _stores(migrated_url)
        assert {row[0]: row[1] for row in _stores(other)} == NAMES
        assert _extras(other) == EXTRAS
    assert second.read_bytes() == first.read_bytes()


@pytest.mark.parametrize(
    "text",
    ["", "'", "''", "=", "=x", "+1", "-", "@", "\t", "\r", "'=x", " = x", "plain", "'plain"],
)
def test_neutralize_is_undone_exactly_and_never_starts_a_formula(text: str) -> None:
    written = neutralize(text)

    assert unneutralize(written) == text
    assert written != ""  # an empty cell means no value
    assert not written.startswith(("=", "+", "-", "@", "\t", "\r"))
