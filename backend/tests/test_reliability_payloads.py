"""Generated payloads thrown at every JSON column: stored and read back equal, or refused.

A refusal is a PayloadError naming the column, and the database is left as it was. After
every payload the database passes its integrity checks.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from backend.app.database.base import Base
from backend.app.maintenance import health
from backend.app.models import Allocation, Category, Forecast, WorkflowLog
from backend.app.models.enums import WorkflowStatus
from backend.app.schemas.payloads import PayloadError, refuse_unportable

# --- what is thrown -------------------------------------------------------------------------

# Every character, lone surrogates and NUL included, plus strings known to be awkward.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\x00", "a\x00b", "\ud800", "\udfff x", "\U0001f600", "\u2028", '"\\', "é" * 40]
)
NUMBERS = (
    st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**63 + 2)
    | st.integers(min_value=-(2**64), max_value=-(2**63) + 2)
    | st.floats()  # NaN and the infinities included
    | st.sampled_from([1e16, 1e23, -1e308, 9007199254740993.0, 5e-324, -0.0, 10**3999, 10**4100])
)
SCALARS = st.none() | st.booleans() | NUMBERS | ANY_TEXT
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
NOT_JSON = (
    st.tuples(st.integers())
    | st.frozensets(st.integers(), min_size=1, max_size=2)
    | st.binary(min_size=1, max_size=4)
    | st.datetimes()
    | st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2)
    | st.lists(st.datetimes(), min_size=1, max_size=2)
)
ANYTHING = JSON_LIKE | NOT_JSON


def _near(valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid item, or one with a field dropped, replaced by anything, or one too many."""

    def mutate(item: dict[str, Any], how: int, key_pick: int, other: Any) -> dict[str, Any]:
        keys = sorted(item)
        key = keys[key_pick % len(keys)]
        changed = dict(item)
        if how == 1:
            del changed[key]
        elif how == 2:
            changed[key] = other
        elif how == 3:
            changed["unexpected"] = other
        return changed

    return st.builds(mutate, valid, st.integers(0, 3), st.integers(0, 10), ANYTHING)


WEEK_POINT = st.fixed_dictionaries(
    {"week_number": st.integers(1, 60), "demand_units": st.integers(0, 2**70)}
)
CURVES = (
    st.lists(st.integers(1, 52), unique=True, max_size=14).flatmap(
        lambda weeks: st.tuples(*[st.integers(0, 10**6) for _ in weeks]).map(
            lambda units: [
                {"week_number": w, "demand_units": u} for w, u in zip(weeks, units, strict=True)
            ]
        )
    )
    | st.lists(_near(WEEK_POINT), max_size=5)
    | ANYTHING
)
MODELS_USED = st.lists(ANY_TEXT, max_size=4) | st.lists(ANYTHING, max_size=3) | ANYTHING
ALLOCATION_ITEM = st.fixed_dictionaries(
    {
        "store_id": ANY_TEXT,
        "initial": st.integers(-2, 10**9),
        "holdback": st.integers(-2, 10**9),
    }
)
STORE_ALLOCATIONS = st.lists(_near(ALLOCATION_ITEM), max_size=5) | ANYTHING
OBJECTS = st.dictionaries(ANY_TEXT, JSON_LIKE, max_size=5) | ANYTHING


# --- where it is thrown ------------------------------------------------------------------

_ids = itertools.count()


def _forecast(row_id: str) -> Forecast:
    return Forecast(
        forecast_id=row_id,
        category_id="CAT-P",
        season="Spring 2026",
        forecast_horizon_weeks=12,
        total_season_demand=100,
        weekly_demand_curve=[{"week_number": 1, "demand_units": 100}],
        peak_week=1,
        models_used=["prophet"],
    )


def _allocation(row_id: str) -> Allocation:
    return Allocation(
        allocation_id=row_id,
        forecast_id="F-P",
        manufacturing_qty=10,
        initial_allocation_total=5,
        holdback_total=5,
        store_allocations=[],
    )


def _log(row_id: str) -> WorkflowLog:
    return WorkflowLog(
        log_id=row_id,
        workflow_id="wf-p",
        agent_name="hypothesis",
        action="store",
        status=WorkflowStatus.COMPLETED,
    )


Column = tuple[Callable[[str], Base], str, st.SearchStrategy[Any]]
COLUMNS: dict[str, Column] = {
    "weekly_demand_curve": (_forecast, "weekly_demand_curve", CURVES),
    "models_used": (_forecast, "models_used", MODELS_USED),
    "store_allocations": (_allocation, "store_allocations", STORE_ALLOCATIONS),
    "input_data": (_log, "input_data", OBJECTS),
    "output_data": (_log, "output_data", OBJECTS),
}


@pytest.fixture
def parents(engine: Engine) -> Iterator[Engine]:
    with Session(engine) as session:
        session.add(
            Category(
                category_id="CAT-P",
                category_name="Payloads",
                season_start_date=date(2026, 3, 2),
                season_end_date=date(2026, 5, 25),
                season_length_weeks=12,
            )
        )
        session.flush()
        session.add(_forecast("F-P"))
        session.commit()
    yield engine


def same(stored: Any, given: Any) -> bool:
    """Equal and of the same JSON type at every depth (``1``, ``1.0`` and ``True`` differ)."""
    if isinstance(given, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == given.keys()
            and all(same(stored[key], given[key]) for key in given)
        )
    if isinstance(given, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(given)
            and all(same(a, b) for a, b in zip(stored, given, strict=True))
        )
    if type(stored) is not type(given):
        return False
    return bool(stored == given or (stored != stored and given != given))  # NaN is NaN


def _row_count(engine: Engine, model: type[Base]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def assert_database_sound(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            checks = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
            assert checks == ["ok"]
            assert list(connection.exec_driver_sql("PRAGMA foreign_key_check")) == []
        else:
            # Every stored document is still a valid jsonb value of the expected kind.
            kinds = connection.exec_driver_sql(
                "SELECT DISTINCT jsonb_typeof(weekly_demand_curve) FROM forecasts "
                "UNION SELECT DISTINCT jsonb_typeof(store_allocations) FROM allocations"
            ).scalars()
            assert set(kinds) <= {"array"}


def assert_clear_refusal(error: BaseException, column: str, payload: Any) -> None:
    """A PayloadError naming the column (SQLAlchemy wraps those raised while binding), or,
    for a None where the column needs a value, the NOT NULL constraint naming it."""
    cause = error.orig if isinstance(error, StatementError) else error
    message = str(cause)
    if payload is None and isinstance(error, IntegrityError):
        assert "NOT NULL" in message or "not-null" in message, message
        assert column in message, f"the error does not name {column}: {message}"
        return
    assert isinstance(cause, PayloadError), f"refused with the wrong error: {error!r}"
    assert message.startswith(column), f"the error does not name {column}: {message}"


def throw(engine: Engine, column: str, payload: Any) -> str:
    """Store ``payload`` in ``column`` of a new row; check the outcome; say which it was."""
    factory, attribute, _ = COLUMNS[column]
    row_id = f"P-{next(_ids)}"
    original = copy.deepcopy(payload)
    row = factory(row_id)
    model = type(row)
    before = _row_count(engine, model)
    try:
        with Session(engine) as session:
            setattr(row, attribute, payload)
            session.add(row)
            session.commit()
    except (PayloadError, StatementError) as error:
        assert_clear_refusal(error, column, payload)
        assert _row_count(engine, model) == before
        outcome = "refused"
    else:
        with Session(engine) as session:
            stored = getattr(session.get(model, row_id), attribute)
        assert same(stored, original), f"{column}: stored {original!r}, read back {stored!r}"
        outcome = "stored"
    assert same(payload, original)  # the caller's value is untouched
    assert_database_sound(engine)
    return outcome


@pytest.mark.slow
@pytest.mark.parametrize("column", sorted(COLUMNS))
def test_a_json_column_stores_a_payload_exactly_or_refuses_it(parents: Engine, column: str) -> None:
    outcomes: list[str] = []

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload=COLUMNS[column][2])
    def run(payload: Any) -> None:
        outcomes.append(throw(parents, column, payload))

    run()
    # Both outcomes were exercised: the strategies are not all-valid or all-invalid.
    assert {"stored", "refused"} <= set(outcomes)
    # The database-level checks of `ffdb doctor` (integrity, foreign keys, constraints,
    # indexes); its domain rules are not the point here: a curve of any valid shape may
    # be stored, and it is the domain layer's write API that holds curves to the horizon.
    with parents.connect() as connection:
        assert health.run_checks(connection) == []


KNOWN_HARD_CASES = [
    ("input_data", {"text": "a\x00b"}),
    ("input_data", {"lone surrogate": "\ud800"}),
    ("input_data", {"\ud800": 1}),
    ("input_data", {"huge float": 1e23}),
    ("input_data", {"max float": 1.7976931348623157e308}),
    ("input_data", {"nan": float("nan")}),
    ("input_data", {"inf": [float("-inf")]}),
    ("input_data", {"huge int": 10**4400}),
    ("input_data", {"fine big int": 2**64, "fine float": 9007199254740993.0, "tiny": 5e-324}),
    ("input_data", {"nested": {"deeper": [[{"x": [None, True, 0, 0.5, "é"]}]]}}),
    ("input_data", {"when": datetime(2026, 1, 1, tzinfo=UTC)}),
    ("models_used", ["prophet\x00"]),
    ("models_used", ["\udfff"]),
    ("models_used", ["prophet", "arima", "\U0001f600"]),
    ("store_allocations", [{"store_id": "S\x00", "initial": 1, "holdback": 0}]),
    ("store_allocations", [{"store_id": "S1", "initial": 10**30, "holdback": 0}]),
    ("weekly_demand_curve", [{"week_number": 1, "demand_units": 10**4400}]),
    ("weekly_demand_curve", [{"week_number": 1, "demand_units": 1.0}]),
    ("weekly_demand_curve", None),
    ("input_data", None),
]


@pytest.mark.parametrize(("column", "payload"), KNOWN_HARD_CASES)
def test_payloads_that_broke_json_columns_elsewhere(
    parents: Engine, column: str, payload: Any
) -> None:
    throw(parents, column, payload)


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        (7, False),
        (10**18, False),
        (-(10**18), False),
        (10**4000, True),
        ("S001", False),
        ("café", False),
        ("a\x00b", True),
        ("\ud800", True),
        (True, False),
        (1.5, False),
        (1e17, True),
        (float("nan"), True),
    ],
)
def test_values_nested_in_lists_and_objects_are_checked_alike(value: object, refused: bool) -> None:
    """Items of a long payload take a fast path; it refuses exactly what the full check does."""
    for payload in ([1, value], {"a": 1, "b": value}, [{"store_id": "S1", "x": value}]):
        if refused:
            with pytest.raises(PayloadError):
                refuse_unportable(payload, "column")
        else:
            refuse_unportable(payload, "column")


@pytest.mark.parametrize(
    ("key", "refused"), [("store_id", False), ("café", False), ("a\x00", True)]
)
def test_keys_of_nested_objects_are_checked(key: str, refused: bool) -> None:
    payload = [{"store_id": "S1"}, {key: 1}]
    if refused:
        with pytest.raises(PayloadError, match=r"column\[1\] key: text contains a NUL"):
            refuse_unportable(payload, "column")
    else:
        refuse_unportable(payload, "column")
