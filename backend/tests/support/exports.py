"""The retailer-style export files the import tests read, and the season they belong to.

Two sets hold the same kinds of file under the same headers and spellings:

- the repository's own, ``backend/tests/data/`` (written by ``data/generate.py``),
  always there: every import test runs on it;
- the retailer's, ``../shared/fixtures/retail-exports/`` beside the repository: an
  extra suite (marker ``retailer``) that runs when the folder is there, is left out
  with a one-line note when it is not, and fails in CI (``CI=true``) without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from backend.tests.support.backends import in_ci

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SHARED_DIR = Path(__file__).resolve().parents[4] / "shared"
RETAILER_DIR = SHARED_DIR / "fixtures" / "retail-exports"

# The season of the daily actuals files: 12 weeks from Monday 2025-02-17.
SEASON_START = date(2025, 2, 17)
SEASON_END = date(2025, 5, 11)
SEASON_WEEKS = 12
CATEGORY_ID = "womens_dresses"
CATEGORY_NAME = "Women's Dresses"  # how a daily historical export names the category
FORECAST_ID = "F_WD_2025"


@dataclass(frozen=True)
class ExportSet:
    """A folder of store-attribute files and one daily actuals file per season week."""

    name: str
    folder: Path
    # The two retailer layouts of the store file: whole numbers, and decimals.
    store_files: tuple[str, str]
    stores: int  # rows of each store file: stores S001, S002, ...
    weeks: int  # actuals files, season weeks 1..weeks, each 7 days x every store

    def store_file(self, layout: int) -> Path:
        return self.folder / self.store_files[layout]

    def actuals_week(self, week: int) -> Path:
        return self.folder / "normal_season" / f"actuals_week_{week:02d}.csv"


REPO_EXPORTS = ExportSet(
    "repo", DATA_DIR, ("stores_whole_numbers.csv", "stores_decimals.csv"), 20, SEASON_WEEKS
)
RETAILER_EXPORTS = ExportSet(
    "retailer",
    RETAILER_DIR,
    ("store_attributes.csv", "realistic_stores_dataset1.csv"),
    50,
    SEASON_WEEKS,
)
# The repository's files of the formats the retailer's set lacks.
WEEKLY_HISTORY = DATA_DIR / "historical_sales_weekly.csv"
DAILY_HISTORY = DATA_DIR / "historical_sales_daily.csv"
WEEKLY_ACTUALS = DATA_DIR / "actuals_weekly.csv"


def retailer_suite_runs() -> bool:
    """Whether the retailer suite is collected: its folder is there, or CI must fail."""
    return RETAILER_DIR.is_dir() or in_ci()


def export_set_params() -> list[object]:
    """``pytest.param`` of each export set this run tests."""
    params = [pytest.param(REPO_EXPORTS, id="repo")]
    if retailer_suite_runs():
        params.append(pytest.param(RETAILER_EXPORTS, id="retailer", marks=pytest.mark.retailer))
    return params


def retailer_note() -> str | None:
    """The one line that says why the retailer suite did not run, if it did not."""
    if retailer_suite_runs():
        return None
    return f"retailer suite not run: {RETAILER_DIR} is absent (with CI=true this fails)"


def require_folder(export_set: ExportSet) -> ExportSet:
    """``export_set``, failing the test when its folder is missing (CI without ../shared)."""
    if not export_set.folder.is_dir():
        pytest.fail(f"{export_set.folder} is absent: CI must run the {export_set.name} suite")
    return export_set


def write_file(path: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` as given (bytes as they are, text as UTF-8, no newline
    translation); returns the path."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path
