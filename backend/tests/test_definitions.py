"""The business definitions as pure functions: season weeks, week calendars, ids, sell-through."""

from __future__ import annotations

import itertools
import unicodedata
from datetime import date, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.app.maintenance.definitions import (
    KEY_MAX_LENGTH,
    Weekday,
    actual_sales_id,
    actual_sales_ids,
    category_id_from_name,
    cluster_id_for_tier,
    distribution_id,
    historical_sale_id,
    historical_sale_ids,
    natural_id,
    natural_id_column,
    season_end,
    season_week,
    season_week_days,
    sell_through_gap,
    sell_through_ratio,
    week_start,
    weekday_of,
)
from backend.app.models.keys import key_problem
from backend.app.schemas.enums import FashionTier

SATURDAY_SEASON = date(2025, 3, 1)  # the system's own scenarios start seasons on a Saturday


# --- season weeks -------------------------------------------------------------------------


@pytest.mark.parametrize("offset", range(7))
def test_season_week_n_is_the_7_days_from_start_plus_7_n_minus_1(offset: int) -> None:
    start = date(2025, 3, 3) + timedelta(days=offset)  # every weekday as a season start
    for week in (1, 2, 12):
        first, last = season_week_days(week, start)
        assert first == start + timedelta(days=7 * (week - 1)) and last == first + timedelta(6)
        days = [first + timedelta(days=n) for n in range(7)]
        assert {season_week(day, start) for day in days} == {week}
    assert season_week(start - timedelta(days=1), start) == 0  # before the season
    assert season_end(start, 12) == start + timedelta(days=83)


def test_a_saturday_season_runs_saturday_to_friday() -> None:
    assert season_week_days(1, SATURDAY_SEASON) == (date(2025, 3, 1), date(2025, 3, 7))
    assert season_week(date(2025, 3, 7), SATURDAY_SEASON) == 1  # a Friday
    assert season_week(date(2025, 3, 8), SATURDAY_SEASON) == 2  # the next Saturday
    assert season_week(date(2025, 3, 10), SATURDAY_SEASON) == 2  # a Monday is mid-week


@pytest.mark.parametrize("weekday", list(Weekday))
def test_week_start_is_the_latest_such_weekday_on_or_before_the_day(weekday: Weekday) -> None:
    for day in (date(2024, 12, 28) + timedelta(days=n) for n in range(10)):
        start = week_start(day, weekday)
        assert weekday_of(start) is weekday
        assert 0 <= (day - start).days < 7


def test_weekday_names_parse_in_any_case_and_refuse_others() -> None:
    assert Weekday.parse("Sunday") is Weekday.SUNDAY
    assert Weekday.parse(" monday ") is Weekday.MONDAY
    with pytest.raises(ValueError, match="'sun' is not a weekday: expected one of monday, "):
        Weekday.parse("sun")


# --- ids from natural keys ----------------------------------------------------------------


def test_ids_of_rows_are_their_natural_keys() -> None:
    assert actual_sales_id("F_WD_2025", "S001", 3) == "AS:F_WD_2025:S001:3"
    assert historical_sale_id("S001", "womens_dresses", date(2025, 2, 17)) == (
        "HS:S001:womens_dresses:2025-02-17"
    )
    assert historical_sale_id("S001", "x", "2025-02-17") == historical_sale_id(
        "S001", "x", date(2025, 2, 17)
    )
    assert distribution_id("F1", "CL-PREMIUM") == "FD:F1:CL-PREMIUM"
    assert [cluster_id_for_tier(tier) for tier in FashionTier] == [
        "CL-PREMIUM",
        "CL-MAINSTREAM",
        "CL-VALUE",
    ]


def test_separators_inside_key_parts_cannot_make_two_keys_alike() -> None:
    keys = [("a:b", "c"), ("a", "b:c"), ("a%3Ab", "c"), ("a~b", "c"), ("a%7Eb", "c")]
    ids = {natural_id("AS", *key, 1) for key in keys}
    assert len(ids) == len(keys)


key_part = st.text(min_size=1, max_size=200)


@given(st.lists(st.tuples(key_part, key_part, st.integers(1, 12)), min_size=2, max_size=6))
def test_ids_are_collision_free_and_bounded_for_any_keys(
    keys: list[tuple[str, str, int]],
) -> None:
    ids = {key: actual_sales_id(*key) for key in keys}
    assert len(set(ids.values())) == len(set(keys))
    assert all(len(value) <= KEY_MAX_LENGTH for value in ids.values())
    assert all(key_problem(value) is None for value in ids.values())  # the schema's key rule
    assert all(actual_sales_id(*key) == value for key, value in ids.items())  # stable


@given(st.lists(st.tuples(key_part, key_part, key_part), min_size=1, max_size=20))
def test_ids_made_for_many_rows_are_the_ids_of_each_row(keys: list[tuple[str, str, str]]) -> None:
    many_actuals, many_history = actual_sales_ids(), historical_sale_ids()
    for forecast, store, week in keys + keys:  # twice: the second time from the cache
        assert many_actuals(forecast, store, week) == actual_sales_id(forecast, store, week)  # type: ignore[arg-type]
        assert many_history(forecast, store, week) == historical_sale_id(forecast, store, week)


# Any Unicode text an Arrow string can hold (no lone surrogates), the separators and the
# escape characters made likely, short and over-long.
column_text = st.text(
    alphabet=st.one_of(st.sampled_from("%:~a"), st.characters(exclude_categories=("Cs",))),
    min_size=0,
    max_size=150,
)


# No per-example deadline: the first example pays for importing pyarrow (~0.4 s).
@settings(deadline=None)
@given(st.lists(st.tuples(column_text, column_text, column_text), min_size=1, max_size=30))
def test_ids_made_for_whole_columns_are_the_ids_of_each_row(
    keys: list[tuple[str, str, str]],
) -> None:
    columns = [pa.array([key[i] for key in keys], type=pa.string()) for i in range(3)]
    for kind in ("HS", "AS"):
        made = natural_id_column(kind, *columns).to_pylist()
        assert made == [natural_id(kind, *key) for key in keys]


def test_column_ids_escape_and_shorten_like_the_scalar() -> None:
    keys = [("a:b", "c%", "2025-02-17"), ("S" * 200, "womens", "2025-02-17"), ("S1", "Ä~", "x")]
    columns = [pa.array([key[i] for key in keys]) for i in range(3)]
    assert natural_id_column("HS", *columns).to_pylist() == [
        "HS:a%3Ab:c%25:2025-02-17",
        historical_sale_id("S" * 200, "womens", "2025-02-17"),
        "HS:S1:Ä%7E:x",
    ]
    assert len(natural_id_column("HS", *columns)[1].as_py()) == KEY_MAX_LENGTH


def test_a_long_key_is_cut_and_ends_in_a_hash_of_all_of_it() -> None:
    long_store = "S" * 300
    one, other = actual_sales_id("F1", long_store, 1), actual_sales_id("F1", long_store, 2)
    assert len(one) == len(other) == KEY_MAX_LENGTH and one != other
    assert one.startswith("AS:F1:SSS") and "~" in one


# --- ids from names -----------------------------------------------------------------------


def test_category_ids_from_unicode_names_keep_their_letters() -> None:
    assert category_id_from_name("Women's Dresses") == "womens_dresses"
    assert category_id_from_name("Ä-Wear") == "ä_wear"
    assert category_id_from_name("Ü-Wear") == "ü_wear"
    assert category_id_from_name("Ä-Wear") != category_id_from_name("Ü-Wear")
    assert category_id_from_name("Вечерние платья") == "вечерние_платья"
    assert category_id_from_name("婦人服") == "婦人服"


def test_names_differing_only_in_case_spacing_or_apostrophes_share_an_id() -> None:
    same = [
        "Women's Dresses",
        "WOMENS DRESSES",
        "women\u2019s  dresses",
        "Womens_Dresses",
        "womens-dresses",
    ]
    assert {category_id_from_name(name) for name in same} == {"womens_dresses"}
    # NFKC: a compatibility character and its plain form, composed and decomposed letters.
    assert category_id_from_name("ﬁne Knits") == category_id_from_name("Fine Knits")
    assert category_id_from_name(unicodedata.normalize("NFD", "Ä-Wear")) == "ä_wear"


def test_names_with_other_characters_get_distinct_hashed_ids() -> None:
    names = ["Tops & Tees", "Tops + Tees", "Tops Tees", "Tops/Tees", "🌸", "🌼", "?"]
    ids = [category_id_from_name(name) for name in names]
    assert len(set(ids)) == len(names)
    assert ids[2] == "tops_tees"
    assert ids[0].startswith("tops_tees-") and ids[4].startswith("_")
    assert category_id_from_name("Tops & Tees") == category_id_from_name("tops  &  TEES")


@given(st.lists(st.text(min_size=1, max_size=300), min_size=2, max_size=8, unique=True))
def test_category_ids_are_stable_bounded_and_distinct_for_distinct_folded_names(
    names: list[str],
) -> None:
    def folded(name: str) -> tuple[str, ...]:
        text = unicodedata.normalize("NFKC", name).casefold()
        text = text.translate(str.maketrans("", "", "'\u2019\u2018\u02bc"))
        return tuple(token for token in text.replace("-", " ").replace("_", " ").split() if token)

    for one, other in itertools.combinations(names, 2):
        if folded(one) != folded(other):
            assert category_id_from_name(one) != category_id_from_name(other), (one, other)
    for name in names:
        assert len(category_id_from_name(name)) <= KEY_MAX_LENGTH
        assert key_problem(category_id_from_name(name)) is None
        assert category_id_from_name(name) == category_id_from_name(name)


# --- sell-through -------------------------------------------------------------------------


def test_sell_through_is_units_sold_over_units_shipped() -> None:
    assert sell_through_ratio(300, 600) == 0.5
    assert sell_through_ratio(5, 0) is None and sell_through_ratio(5, None) is None
    assert sell_through_gap(0.6, 0.5) == pytest.approx(0.1)
