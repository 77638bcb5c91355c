"""The JSON columns on both backends: types, round trips, in-place edits, bad shapes."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from backend.app.models import Allocation, Category, Forecast, WorkflowLog, metadata
from backend.app.schemas.payloads import PayloadError
from backend.tests.support.rows import VALID_ROWS, valid_row

JSON_COLUMNS = {
    ("forecasts", "weekly_demand_curve"),
    ("forecasts", "models_used"),
    ("allocations", "store_allocations"),
    ("workflow_logs", "input_data"),
    ("workflow_logs", "output_data"),
    ("store_extra_attributes", "attributes"),
}

CURVE = [{"week_number": week, "demand_units": 500 + week} for week in range(1, 13)]
NESTED = {
    "parameters": {"horizon": {"weeks": 12, "start": "2025-03-01"}, "ratio": 0.45},
    "stores": ["S01", "S02"],
    "flags": {"dry_run": False, "note": None},
    "text": 'Grüße, 東京 and "quotes"',
    "big": 2**53,
}


def _forecast(**overrides: Any) -> Forecast:
    return Forecast(
        **(valid_row("forecasts", weekly_demand_curve=copy.deepcopy(CURVE)) | overrides)
    )


def _category() -> Category:
    return Category(**VALID_ROWS["categories"])


@pytest.fixture
def stored(engine: Engine) -> Engine:
    """The engine, its database holding a category, a forecast, an allocation and a log."""
    with Session(engine) as session:
        session.add_all(
            [
                _category(),
                _forecast(),
                Allocation(**VALID_ROWS["allocations"]),
                WorkflowLog(
                    **VALID_ROWS["workflow_logs"],
                    input_data=copy.deepcopy(NESTED),
                    output_data={"rows": [1, 2, 3]},
                ),
            ]
        )
        session.commit()
    return engine


def _fresh(engine: Engine, model: Any, key: str) -> Any:
    """The row as a new session reads it from the database."""
    with Session(engine) as session:
        return session.get(model, key)


def test_json_is_jsonb_on_postgresql_and_json_on_sqlite(engine: Engine) -> None:
    inspector = inspect(engine)
    for table_name, column in JSON_COLUMNS:
        (found,) = [c for c in inspector.get_columns(table_name) if c["name"] == column]
        if engine.dialect.name == "postgresql":
            assert isinstance(found["type"], JSONB), (table_name, column, found["type"])
        else:
            assert isinstance(found["type"], sa.JSON), (table_name, column, found["type"])
    declared = {
        (t.name, c.name)
        for t in metadata.sorted_tables
        for c in t.columns
        if isinstance(c.type, sa.TypeDecorator) and isinstance(c.type.impl_instance, sa.JSON)
    }
    assert declared == JSON_COLUMNS


def test_every_json_column_round_trips(stored: Engine) -> None:
    forecast = _fresh(stored, Forecast, "F1")
    assert forecast.weekly_demand_curve == CURVE
    assert forecast.weekly_demand_curve[0]["demand_units"] == 501
    assert forecast.models_used == ["prophet", "arima"]
    allocation = _fresh(stored, Allocation, "A1")
    assert allocation.store_allocations == VALID_ROWS["allocations"]["store_allocations"]
    log = _fresh(stored, WorkflowLog, "L1")
    assert log.input_data == NESTED
    assert log.output_data == {"rows": [1, 2, 3]}


def test_a_null_json_column_is_sql_null(stored: Engine) -> None:
    with Session(stored) as session:
        session.add(WorkflowLog(**valid_row("workflow_logs", log_id="L2")))
        session.commit()
    with stored.connect() as connection:
        nulls = connection.execute(
            sa.text("SELECT count(*) FROM workflow_logs WHERE input_data IS NULL")
        ).scalar_one()
    assert nulls == 1


CurveEdit = Callable[[list[Any]], None]

CURVE_EDITS: dict[str, tuple[CurveEdit, Callable[[list[Any]], Any]]] = {
    # The story's own example.
    "nested item": (
        lambda c: c[0].__setitem__("demand_units", 600),
        lambda c: c[0]["demand_units"] == 600,
    ),
    "append": (
        lambda c: c.append({"week_number": 13, "demand_units": 1}),
        lambda c: c[-1] == {"week_number": 13, "demand_units": 1},
    ),
    "append then edit the appended item": (
        lambda c: (c.append({"week_number": 13, "demand_units": 1}), c[-1].update(demand_units=2)),
        lambda c: c[-1]["demand_units"] == 2,
    ),
    "extend": (
        lambda c: c.extend([{"week_number": 14, "demand_units": 3}]),
        lambda c: len(c) == 13,
    ),
    "+=": (lambda c: c.__iadd__([{"week_number": 20, "demand_units": 0}]), lambda c: len(c) == 13),
    "insert": (
        lambda c: c.insert(0, {"week_number": 30, "demand_units": 9}),
        lambda c: c[0]["week_number"] == 30,
    ),
    "pop": (lambda c: c.pop(), lambda c: len(c) == 11),
    "del item": (lambda c: c.__delitem__(0), lambda c: c[0]["week_number"] == 2),
    "remove": (lambda c: c.remove(c[1]), lambda c: c[1]["week_number"] == 3),
    "slice assignment": (
        lambda c: c.__setitem__(slice(0, 12), [{"week_number": 1, "demand_units": 0}]),
        lambda c: c == [{"week_number": 1, "demand_units": 0}],
    ),
    "slice assignment then nested edit": (
        lambda c: (
            c.__setitem__(slice(0, 12), [{"week_number": 1, "demand_units": 0}]),
            c[0].__setitem__("demand_units", 7),
        ),
        lambda c: c == [{"week_number": 1, "demand_units": 7}],
    ),
    "sort": (
        lambda c: c.sort(key=lambda p: -p["week_number"]),
        lambda c: c[0]["week_number"] == 12,
    ),
    "reverse": (lambda c: c.reverse(), lambda c: c[0]["week_number"] == 12),
    "nested pop": (
        lambda c: (c[0].pop("demand_units"), c[0].__setitem__("demand_units", 42)),
        lambda c: c[0]["demand_units"] == 42,
    ),
    "nested setdefault on a new key then remove it": (
        lambda c: (c[0].setdefault("note", "x"), c[0].pop("note"), c[0].update(demand_units=5)),
        lambda c: c[0] == {"week_number": 1, "demand_units": 5},
    ),
    "clear": (lambda c: c.clear(), lambda c: c == []),
}


@pytest.mark.parametrize("edit", sorted(CURVE_EDITS))
def test_in_place_curve_edits_persist_on_commit(stored: Engine, edit: str) -> None:
    change, check = CURVE_EDITS[edit]
    with Session(stored) as session:
        forecast = session.get(Forecast, "F1")
        assert forecast is not None
        change(forecast.weekly_demand_curve)
        assert session.is_modified(forecast), f"{edit} not tracked"
        session.commit()
    assert check(_fresh(stored, Forecast, "F1").weekly_demand_curve), edit


DICT_EDITS: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[dict[str, Any]], Any]]] = {
    "two levels down": (
        lambda d: d["parameters"]["horizon"].__setitem__("weeks", 26),
        lambda d: d["parameters"]["horizon"]["weeks"] == 26,
    ),
    "list inside a dict": (
        lambda d: d["stores"].append("S03"),
        lambda d: d["stores"] == ["S01", "S02", "S03"],
    ),
    "new nested dict, then edit inside it": (
        lambda d: (d.__setitem__("extra", {"a": {"b": 1}}), d["extra"]["a"].__setitem__("b", 2)),
        lambda d: d["extra"] == {"a": {"b": 2}},
    ),
    "update": (lambda d: d["flags"].update(dry_run=True), lambda d: d["flags"]["dry_run"] is True),
    "|=": (lambda d: d["flags"].__ior__({"note": "n"}), lambda d: d["flags"]["note"] == "n"),
    "setdefault returns the tracked value": (
        lambda d: d.setdefault("made", {}).__setitem__("k", 1),
        lambda d: d["made"] == {"k": 1},
    ),
    "del": (
        lambda d: d["parameters"].__delitem__("ratio"),
        lambda d: "ratio" not in d["parameters"],
    ),
    "popitem": (lambda d: d["flags"].popitem(), lambda d: len(d["flags"]) == 1),
    "clear": (lambda d: d["parameters"].clear(), lambda d: d["parameters"] == {}),
}


@pytest.mark.parametrize("edit", sorted(DICT_EDITS))
def test_in_place_nested_dict_edits_persist_on_commit(stored: Engine, edit: str) -> None:
    change, check = DICT_EDITS[edit]
    with Session(stored) as session:
        log = session.get(WorkflowLog, "L1")
        assert log is not None and log.input_data is not None
        change(log.input_data)
        assert session.is_modified(log), f"{edit} not tracked"
        session.commit()
    assert check(_fresh(stored, WorkflowLog, "L1").input_data), edit


def test_edits_on_a_new_object_and_after_a_commit_are_tracked(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        session.add(_category())
        forecast = _forecast()
        forecast.weekly_demand_curve[0]["demand_units"] = 1  # before the first flush
        session.add(forecast)
        session.commit()
        forecast.weekly_demand_curve[1]["demand_units"] = 2  # on the committed object
        session.commit()
        session.refresh(forecast)
        forecast.weekly_demand_curve[2]["demand_units"] = 3  # after a refresh
        session.commit()
    curve = _fresh(engine, Forecast, "F1").weekly_demand_curve
    assert [p["demand_units"] for p in curve[:3]] == [1, 2, 3]


def test_rows_never_share_nested_json(stored: Engine) -> None:
    # expire_on_commit=False as in session_scope: objects keep their loaded values.
    with Session(stored, expire_on_commit=False) as session:
        old = session.get(Forecast, "F1")
        assert old is not None
        # Copying a curve from one forecast into another, as a planner would.
        new = _forecast(forecast_id="F2", weekly_demand_curve=list(old.weekly_demand_curve))
        session.add(new)
        session.commit()
        old.weekly_demand_curve[0]["demand_units"] = 7
        assert session.is_modified(old)
        assert new.weekly_demand_curve[0]["demand_units"] == 501
        session.commit()
    assert _fresh(stored, Forecast, "F1").weekly_demand_curve[0]["demand_units"] == 7
    assert _fresh(stored, Forecast, "F2").weekly_demand_curve[0]["demand_units"] == 501


def test_copies_of_a_json_value_are_plain_detached_data(stored: Engine) -> None:
    with Session(stored) as session:
        forecast = session.get(Forecast, "F1")
        assert forecast is not None
        for duplicate in (
            copy.deepcopy(forecast.weekly_demand_curve),
            pickle.loads(pickle.dumps(forecast.weekly_demand_curve)),
        ):
            assert duplicate == CURVE
            assert duplicate is not forecast.weekly_demand_curve
            duplicate[0]["demand_units"] = 0
            duplicate.append({"week_number": 13, "demand_units": 1})
        assert not session.is_modified(forecast)
        assert forecast.weekly_demand_curve == CURVE


# --- bad shapes --------------------------------------------------------------------------

BAD_PAYLOADS: list[tuple[str, str, Any, str]] = [
    (
        "wrong key",
        "weekly_demand_curve",
        [{"week": 1, "demand_units": 5}],
        "weekly_demand_curve[0].week_number: Field required",
    ),
    (
        "negative units",
        "weekly_demand_curve",
        [{"week_number": 1, "demand_units": -1}],
        "weekly_demand_curve[0].demand_units: Input should be greater than or equal to 0",
    ),
    (
        "float units",
        "weekly_demand_curve",
        [{"week_number": 1, "demand_units": 1.5}],
        "weekly_demand_curve[0].demand_units: Input should be a valid integer (got 1.5)",
    ),
    (
        "bool units",
        "weekly_demand_curve",
        [{"week_number": 1, "demand_units": True}],
        "weekly_demand_curve[0].demand_units: Input should be a valid integer (got True)",
    ),
    (
        "week zero",
        "weekly_demand_curve",
        [{"week_number": 0, "demand_units": 1}],
        "weekly_demand_curve[0].week_number: Input should be greater than or equal to 1",
    ),
    (
        "duplicate week",
        "weekly_demand_curve",
        [{"week_number": 2, "demand_units": 1}, {"week_number": 2, "demand_units": 1}],
        "weekly_demand_curve[1].week_number: 2 appears more than once "
        "(first at weekly_demand_curve[0])",
    ),
    (
        "non-string model",
        "models_used",
        ["prophet", 3],
        "models_used[1]: Input should be a valid string (got 3)",
    ),
    ("empty model name", "models_used", [""], "models_used[0]: String should have at least 1"),
    (
        "holdback missing",
        "store_allocations",
        [{"store_id": "S01", "initial": 1}],
        "store_allocations[0].holdback: Field required",
    ),
    (
        "negative initial",
        "store_allocations",
        [{"store_id": "S01", "initial": -3, "holdback": 0}],
        "store_allocations[0].initial: Input should be greater than or equal to 0 (got -3)",
    ),
    (
        "store twice",
        "store_allocations",
        [{"store_id": "S01", "initial": 1, "holdback": 0}] * 2,
        "store_allocations[1].store_id: 'S01' appears more than once",
    ),
    (
        "NaN",
        "input_data",
        {"a": {"b": [1, float("nan")]}},
        "input_data.a.b[1]: nan is not a finite",
    ),
    ("non-string key", "input_data", {"a": {1: "x"}}, "input_data.a: key 1 is not a string"),
    ("NUL in text", "output_data", {"a": "x\x00"}, "output_data.a: text contains a NUL character"),
    ("not JSON", "output_data", {"a": {1, 2}}, "output_data.a: set {1, 2} is not a JSON value"),
]

each_bad_payload = pytest.mark.parametrize(
    ("column", "value", "message"),
    [case[1:] for case in BAD_PAYLOADS],
    ids=[case[0] for case in BAD_PAYLOADS],
)

MODEL_OF = {
    "weekly_demand_curve": ("forecasts", Forecast),
    "models_used": ("forecasts", Forecast),
    "store_allocations": ("allocations", Allocation),
    "input_data": ("workflow_logs", WorkflowLog),
    "output_data": ("workflow_logs", WorkflowLog),
}


def _row_count(engine: Engine, table_name: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(metadata.tables[table_name])
        ).scalar_one()


@each_bad_payload
def test_a_bad_payload_is_refused_naming_column_and_item(
    stored: Engine, column: str, value: Any, message: str
) -> None:
    table_name, model = MODEL_OF[column]
    before = _row_count(stored, table_name)
    key = {"forecasts": "F9", "allocations": "A9", "workflow_logs": "L9"}[table_name]
    pk = metadata.tables[table_name].primary_key.columns.keys()[0]
    with Session(stored) as session:
        session.add(model(**valid_row(table_name, **{pk: key, column: value})))
        with pytest.raises(StatementError) as refused:
            session.commit()
    assert isinstance(refused.value.orig, PayloadError)
    assert message in str(refused.value.orig)
    assert _row_count(stored, table_name) == before


@each_bad_payload
def test_core_inserts_are_validated_too(
    stored: Engine, column: str, value: Any, message: str
) -> None:
    table_name, _ = MODEL_OF[column]
    pk = metadata.tables[table_name].primary_key.columns.keys()[0]
    with stored.connect() as connection, pytest.raises(StatementError) as refused:
        connection.execute(
            sa.insert(metadata.tables[table_name]),
            valid_row(table_name, **{pk: "X9", column: value}),
        )
    assert message in str(refused.value)


def test_an_in_place_edit_to_a_bad_shape_is_refused_and_nothing_changes(stored: Engine) -> None:
    with Session(stored) as session:
        forecast = session.get(Forecast, "F1")
        assert forecast is not None
        forecast.weekly_demand_curve[3]["demand_units"] = -5
        with pytest.raises(StatementError) as refused:
            session.commit()
    assert "weekly_demand_curve[3].demand_units: Input should be greater than or equal to 0" in (
        str(refused.value)
    )
    assert _fresh(stored, Forecast, "F1").weekly_demand_curve == CURVE


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("weekly_demand_curve", {"week_number": 1, "demand_units": 1}),
        ("models_used", "prophet"),
        ("store_allocations", 3),
        ("input_data", ["not", "an", "object"]),
    ],
)
def test_a_value_of_the_wrong_container_is_refused_on_assignment(column: str, value: Any) -> None:
    _, model = MODEL_OF[column]
    with pytest.raises(PayloadError, match=f"^{column}: expected a JSON"):
        model(**{column: value})


def test_a_very_long_bad_value_is_not_dumped_whole(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_category())
        huge = [{"week_number": w, "demand_units": 1, "x": "y" * 1000} for w in range(1, 53)]
        session.add(_forecast(weekly_demand_curve=huge))
        with pytest.raises(StatementError) as refused:
            session.commit()
    assert "weekly_demand_curve[0].x: Extra inputs are not permitted" in str(refused.value)
    assert len(str(refused.value.orig)) < 2_000


def test_a_pickled_row_keeps_tracking_its_json(stored: Engine) -> None:
    """Objects are pickled by caches and multiprocessing; their JSON must stay tracked."""
    with Session(stored, expire_on_commit=False) as session:
        forecast = session.get(Forecast, "F1")
        log = session.get(WorkflowLog, "L1")
    revived_forecast, revived_log = pickle.loads(pickle.dumps((forecast, log)))
    with Session(stored) as session:
        merged_forecast = session.merge(revived_forecast)
        merged_log = session.merge(revived_log)
        merged_forecast.weekly_demand_curve[0]["demand_units"] = 900
        merged_log.input_data["parameters"]["horizon"]["weeks"] = 3
        session.commit()
    assert _fresh(stored, Forecast, "F1").weekly_demand_curve[0]["demand_units"] == 900
    assert _fresh(stored, WorkflowLog, "L1").input_data["parameters"]["horizon"]["weeks"] == 3
