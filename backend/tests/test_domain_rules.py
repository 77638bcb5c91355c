"""The domain rules as pure functions: each one's boundary and its message."""

from __future__ import annotations

import pytest

from backend.app.domain import rules
from backend.app.domain.rules import ClusterShare, DomainRuleError, curve_from_units


def test_peak_week_is_the_first_maximum() -> None:
    assert rules.peak_week_of(curve_from_units([5, 9, 9, 1])) == 2
    # Order of the payload does not matter, only the week numbers.
    shuffled = list(reversed(curve_from_units([5, 9, 9, 1])))
    assert rules.peak_week_of(shuffled) == 2
    with pytest.raises(ValueError, match="no peak week"):
        rules.peak_week_of([])


def test_a_curve_that_holds_is_silent() -> None:
    rules.check_forecast("F1", 4, 24, curve_from_units([5, 9, 9, 1]), 2)


def test_curve_weeks_names_missing_outside_and_repeated_weeks() -> None:
    curve = [*curve_from_units([1, 2, 3]), {"week_number": 3, "demand_units": 0}]
    curve.append({"week_number": 9, "demand_units": 0})
    found = rules.forecast_violations("F1", 4, 6, curve, 3)
    assert [violation.rule for violation in found] == ["forecast_curve_weeks"]
    assert found[0].message == (
        "forecast F1: weekly_demand_curve must have one entry per week 1..4 "
        "(forecast_horizon_weeks) but has no entry for week(s) 4; week(s) 9 outside 1..4; "
        "week(s) 3 more than once (rule forecast_curve_weeks)"
    )


def test_every_broken_forecast_rule_is_reported_and_the_first_is_raised() -> None:
    found = rules.forecast_violations("F1", 3, 10, curve_from_units([1, 2, 3]), 1)
    assert [violation.rule for violation in found] == [
        "forecast_curve_total",
        "forecast_peak_week",
    ]
    with pytest.raises(DomainRuleError, match="sums to 6 but total_season_demand is 10") as err:
        rules.check_forecast("F1", 3, 10, curve_from_units([1, 2, 3]), 1)
    assert err.value.rule == "forecast_curve_total"


@pytest.mark.parametrize(
    ("percentages", "broken"),
    [
        ((0.5, 0.5), False),
        ((0.5, 0.5 + 0.9e-6), False),
        ((0.5, 0.5 + 1.1e-6), True),
        ((0.5, 0.5 - 1.1e-6), True),
    ],
)
def test_distribution_percentages_tolerance(percentages: tuple[float, float], broken: bool) -> None:
    shares = [ClusterShare(f"C{i}", pct, 5) for i, pct in enumerate(percentages)]
    found = rules.distribution_violations("F1", 10, shares)
    assert [v.rule for v in found] == (["distribution_percentages"] if broken else [])


def test_allocation_rules_without_and_with_known_stores() -> None:
    items = [
        {"store_id": "S1", "initial": 5, "holdback": 1},
        {"store_id": "S2", "initial": 5, "holdback": 1},
    ]
    assert rules.allocation_violations("A1", items, 10, 2) == []
    found = rules.allocation_violations("A1", items, 10, 2, known_store_ids={"S1"})
    assert [v.message for v in found] == [
        "allocation A1: store_allocations name store(s) that do not exist: S2 "
        "(rule allocation_store_unknown)"
    ]


@pytest.mark.parametrize(("gap", "broken"), [(0.15, False), (0.15 + 2e-9, True)])
def test_markdown_gap_tolerance(gap: float, broken: bool) -> None:
    found = rules.markdown_violations("M1", 0.45, 0.60, gap)
    assert bool(found) is broken


def test_actual_sales_weeks_inside_the_horizon() -> None:
    found = rules.actual_sales_violations("F1", 12, [("S1", 1), ("S1", 12), ("S1", 13), ("S1", 0)])
    assert [v.key for v in found] == ["forecast F1 store S1 week 13", "forecast F1 store S1 week 0"]
