"""ModelSignature: inference from examples, enforcement on input, serialization."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from loopml import InvalidInput, ModelSignature, infer_signature
from loopml.models import ColSpec


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([31, 45], dtype="int64"),
            "score": [0.5, 0.7],
            "small": np.array([1, 2], dtype="int32"),
            "ratio": np.array([0.1, 0.2], dtype="float32"),
            "city": ["Lyon", "Oslo"],
            "active": [True, False],
            "seen": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "blob": [b"a", b"b"],
        }
    )


def test_infer_signature_maps_every_column_type() -> None:
    sig = infer_signature(frame())
    assert [(c.name, c.type, c.required) for c in sig.inputs] == [
        ("age", "long", True),
        ("score", "double", True),
        ("small", "integer", True),
        ("ratio", "float", True),
        ("city", "string", True),
        ("active", "boolean", True),
        ("seen", "datetime", True),
        ("blob", "binary", True),
    ]
    assert sig.outputs is None


def test_infer_signature_accepts_records_and_dicts_and_outputs() -> None:
    from_records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], np.array([0, 1]))
    from_columns = infer_signature({"a": [1, 2], "b": ["x", "y"]})
    assert from_records.inputs == from_columns.inputs == (ColSpec("a", "long"), ColSpec("b", "string"))
    assert from_records.outputs == (ColSpec("prediction", "long"),)
    proba = infer_signature({"a": [1]}, np.array([[0.2, 0.8]]))
    assert proba.outputs == (ColSpec("0", "double"), ColSpec("1", "double"))


def test_infer_signature_refuses_unnamed_or_untyped_columns() -> None:
    with pytest.raises(InvalidInput, match="input_example must be a pandas DataFrame"):
        infer_signature(np.zeros((2, 2)))
    with pytest.raises(InvalidInput, match="column 'x' of the example has only missing values"):
        infer_signature(pd.DataFrame({"x": [None, None]}, dtype=object))
    with pytest.raises(InvalidInput, match="column 'm' holds mixed-integer values"):
        infer_signature({"m": [1, "a"]})


def test_signature_round_trips_through_a_dict() -> None:
    sig = ModelSignature(
        (ColSpec("a", "double"), ColSpec("b", "string", required=False)), (ColSpec("y", "long"),)
    )
    assert ModelSignature.from_dict(sig.to_dict()) == sig


def test_bad_specs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown type 'decimal' for column 'a'"):
        ColSpec("a", "decimal")
    with pytest.raises(InvalidInput, match="more than once"):
        ModelSignature((ColSpec("a", "long"), ColSpec("a", "double")))


def test_a_matching_frame_is_returned_without_a_copy() -> None:
    data = frame()
    assert infer_signature(data).enforce(data) is data


def test_enforce_reorders_and_drops_extra_columns_by_default() -> None:
    sig = ModelSignature((ColSpec("a", "long"), ColSpec("b", "string")))
    out = sig.enforce(pd.DataFrame({"b": ["x"], "zzz": [1.0], "a": [3]}))
    assert list(out.columns) == ["a", "b"]
    assert out["a"].tolist() == [3]


def test_enforce_with_extra_columns_error_names_them() -> None:
    sig = ModelSignature((ColSpec("a", "long"),))
    with pytest.raises(InvalidInput, match="column 'zzz' is not in the signature") as info:
        sig.enforce({"a": [1], "zzz": [2], "yyy": [3]}, extra_columns="error")
    assert info.value.details["extra"] == ["zzz", "yyy"]


def test_enforce_names_every_offending_column_and_the_expected_type() -> None:
    sig = ModelSignature(
        (
            ColSpec("age", "long"),
            ColSpec("income", "double"),
            ColSpec("city", "string"),
            ColSpec("tenure", "integer"),
            ColSpec("flag", "boolean"),
            ColSpec("note", "string", required=False),
        )
    )
    bad = pd.DataFrame({"income": ["high"], "city": [3], "flag": [1.5]})
    with pytest.raises(InvalidInput) as info:
        sig.enforce(bad)
    message = str(info.value)
    assert "required column 'age' (long) is missing" in message
    assert "required column 'tenure' (integer) is missing" in message
    assert "column 'income' must be double, got" in message
    assert "column 'city' must be string, got int64" in message
    assert "column 'flag' must be boolean, got float64" in message
    assert "note" not in message  # optional and absent: fine
    details = info.value.details
    assert [m["column"] for m in details["missing"]] == ["age", "tenure"]
    assert [(w["column"], w["expected"]) for w in details["wrong_type"]] == [
        ("income", "double"),
        ("city", "string"),
        ("flag", "boolean"),
    ]


def test_integers_widen_to_floats_but_floats_never_narrow_to_integers() -> None:
    sig = ModelSignature((ColSpec("x", "double"), ColSpec("f", "float")))
    out = sig.enforce({"x": [1, 2], "f": [3, 4]})
    assert out["x"].dtype == np.float64 and out["f"].dtype == np.float32
    longs = ModelSignature((ColSpec("n", "long"),))
    with pytest.raises(InvalidInput, match="column 'n' must be long, got float64"):
        longs.enforce({"n": [1.5, 2.0]})
    with pytest.raises(InvalidInput, match="with missing values"):
        longs.enforce([{"n": 1}, {}])
    assert longs.enforce({"n": np.array([1, 2], dtype="int8")})["n"].dtype == np.int64


def test_integer_columns_must_fit_32_bits() -> None:
    sig = ModelSignature((ColSpec("i", "integer"),))
    assert sig.enforce({"i": [1, 2]})["i"].dtype == np.int32
    with pytest.raises(InvalidInput, match="outside the range of int32"):
        sig.enforce({"i": [2**40]})


def test_datetimes_are_parsed_from_iso_strings() -> None:
    sig = ModelSignature((ColSpec("t", "datetime"),))
    out = sig.enforce([{"t": "2024-03-01T10:00:00"}])
    assert out["t"].iloc[0] == pd.Timestamp("2024-03-01T10:00:00")
    assert sig.enforce({"t": [dt.datetime(2024, 1, 1)]})["t"].dtype.kind == "M"
    with pytest.raises(InvalidInput, match="not ISO 8601"):
        sig.enforce({"t": ["yesterday"]})


def test_one_record_and_non_string_labels_are_accepted() -> None:
    sig = ModelSignature((ColSpec("a", "long"), ColSpec("b", "string")))
    assert sig.enforce({"a": 1, "b": "x"}).to_dict("records") == [{"a": 1, "b": "x"}]
    with pytest.raises(InvalidInput, match="mixes columns"):
        sig.enforce({"a": [1], "b": "x"})


def test_unknown_extra_columns_policy_is_refused() -> None:
    sig = ModelSignature((ColSpec("a", "long"),))
    with pytest.raises(InvalidInput, match="extra_columns must be 'ignore' or 'error'"):
        sig.enforce({"a": [1]}, extra_columns="drop")  # type: ignore[arg-type]
