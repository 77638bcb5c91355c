"""Parsing without a database: spellings, typed fields, formats, spreadsheet escaping."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.app.ingest.fields import FieldError, boolean, iso_date, number_text, whole_number
from backend.app.ingest.formats import FileKind, detect
from backend.app.ingest.normalize import EnumSpellings, neutralize, unneutralize
from backend.app.ingest.problems import ProblemLog
from backend.app.maintenance.definitions import category_id_from_name
from backend.app.models.enums import FashionTier, Region, StoreFormat


@pytest.mark.parametrize(
    ("spelling", "value"),
    [
        ("Mall", "MALL"),
        ("ShoppingCenter", "SHOPPING_CENTER"),
        ("shopping center", "SHOPPING_CENTER"),
        ("Shopping_Center", "SHOPPING_CENTER"),
        (" outlet ", "OUTLET"),
        ("Kiosk", None),
    ],
)
def test_store_format_spellings(spelling: str, value: str | None) -> None:
    assert EnumSpellings(StoreFormat)(spelling) == value


def test_region_and_tier_spellings() -> None:
    assert EnumSpellings(Region)("Northeast") == "NORTHEAST"
    assert EnumSpellings(Region)("North-East") == "NORTHEAST"
    assert EnumSpellings(FashionTier)("premium") == "PREMIUM"


def test_category_ids_from_names() -> None:
    assert category_id_from_name("Women's Dresses") == "womens_dresses"
    assert category_id_from_name("  Men\u2019s  Shoes & Boots ").startswith("mens_shoes_boots")
    # Letters beyond ASCII are kept: two names never share an id (issue 12, item 6).
    assert category_id_from_name("\u00c4-Wear") != category_id_from_name("\u00dc-Wear")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-3", "negative"),
        ("2.5", "fractional value"),
        ("abc", "not a number"),
        ("", "empty"),
        ("2147483648", "too large, expected at most 2147483647"),
        ("9" * 30, "too large"),
        ("1e20", "too large"),
        ("1e999999999", "too large"),
        ("9007199254740993.0", "too large"),
        ("2147483646.5", "fractional value"),
    ],
)
def test_whole_number_refusals(text: str, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        whole_number(text)


def test_whole_numbers() -> None:
    assert whole_number("12") == 12
    assert whole_number(" 12.0 ") == 12
    assert whole_number("2147483647") == 2**31 - 1  # the INTEGER column's largest
    assert whole_number("1e3") == 1000
    assert boolean("True") is True and boolean("false") is False


def test_dates() -> None:
    assert iso_date("2025-02-17") == date(2025, 2, 17)
    with pytest.raises(FieldError, match="impossible date"):
        iso_date("2025-02-30")
    with pytest.raises(FieldError, match="expected YYYY-MM-DD"):
        iso_date("17/02/2025")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_reads_back_equal(value: float) -> None:
    assert float(number_text(value)) == value


@given(st.text())
def test_neutralize_round_trips_and_never_starts_a_formula(value: str) -> None:
    escaped = neutralize(value)
    assert unneutralize(escaped) == value
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_detect_names_the_right_command() -> None:
    log = ProblemLog("f.csv")
    assert detect(["date", "store_id", "quantity_sold"], (FileKind.WEEKLY_SALES,), log) is None
    assert "ffdb import actuals" in log.lines()[0]
    log = ProblemLog("f.csv")
    layout = detect(
        [" Week_Start_Date", "units_sold", "store_id", "category_id"], (FileKind.WEEKLY_SALES,), log
    )
    assert layout is not None and layout.positions["units_sold"] == 1
