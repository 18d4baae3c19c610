"""Request bodies of the scoring server: the accepted shapes, and the refusals that name the problem."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from loopml.errors import InvalidInput
from loopml.models.signature import ColSpec, ModelSignature
from loopml.serving.input_schema import InputSchema
from loopml.serving.payloads import INVOCATION_KEYS, PREDICT_KEYS, parse_body

SIG = ModelSignature(
    (
        ColSpec("x", "double"),
        ColSpec("n", "long"),
        ColSpec("flag", "boolean"),
        ColSpec("opt", "double", required=False),
    )
)
SCHEMA = InputSchema(SIG)
NAMES = ["x", "n", "flag", "opt"]


def body(doc: object) -> bytes:
    return orjson.dumps(doc)


def conform(doc: object, keys: tuple[str, ...] = PREDICT_KEYS) -> tuple[list[str], list[list[object]]]:
    return SCHEMA.conform(parse_body(body(doc), keys))


@pytest.mark.parametrize(
    ("doc", "keys"),
    [
        ({"records": [{"x": 1.5, "n": 2, "flag": True, "opt": 0.5}]}, PREDICT_KEYS),
        ({"columns": NAMES, "data": [[1.5, 2, True, 0.5]]}, PREDICT_KEYS),
        ({"columns": ["opt", "flag", "n", "x"], "data": [[0.5, True, 2, 1.5]]}, PREDICT_KEYS),
        ({"instances": [[1.5, 2, True, 0.5]]}, PREDICT_KEYS),
        ({"instances": [{"x": 1.5, "n": 2, "flag": True, "opt": 0.5}]}, PREDICT_KEYS),
        ({"dataframe_split": {"columns": NAMES, "data": [[1.5, 2, True, 0.5]]}}, INVOCATION_KEYS),
        ({"dataframe_records": [{"x": 1.5, "n": 2, "flag": True, "opt": 0.5}]}, INVOCATION_KEYS),
        ({"inputs": {"x": [1.5], "n": [2], "flag": [True], "opt": [0.5]}}, INVOCATION_KEYS),
        ({"inputs": [[1.5, 2, True, 0.5]]}, INVOCATION_KEYS),
    ],
)
def test_every_shape_gives_the_same_rows(doc: object, keys: tuple[str, ...]) -> None:
    assert conform(doc, keys) == (NAMES, [[1.5, 2, True, 0.5]])


def test_an_optional_column_may_be_absent_and_extra_columns_are_ignored() -> None:
    assert conform({"records": [{"x": 1, "n": 2, "flag": False, "zzz": "extra"}]}) == (
        NAMES,
        [[1, 2, False, None]],
    )


def test_null_is_a_missing_double_but_not_a_missing_long() -> None:
    assert conform({"records": [{"x": None, "n": 2, "flag": False}]})[1] == [[None, 2, False, None]]
    with pytest.raises(InvalidInput, match=r"'n' expects long, records\[0\] has null"):
        conform({"records": [{"x": 1.0, "n": None, "flag": False}]})


def test_probabilities_flag() -> None:
    rows = parse_body(body({"records": [{"x": 1}], "probabilities": True}), PREDICT_KEYS)
    assert rows.probabilities is True
    with pytest.raises(InvalidInput, match="'probabilities' must be true or false"):
        parse_body(body({"records": [{"x": 1}], "probabilities": "yes"}), PREDICT_KEYS)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the request body is empty"),
        (b"not json", "the request body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"rows": []}', "exactly one of 'records', 'columns', 'instances'; found 'rows'"),
        (b'{"records": [], "instances": []}', "exactly one of"),
        (b'{"records": []}', "'records' holds no rows"),
        (b'{"records": [1]}', r"records\[0\] must be an object"),
        (b'{"columns": ["x", "x"], "data": [[1, 2]]}', r"names columns \['x'\] more than once"),
        (b'{"columns": ["x"], "data": [[1, 2]]}', r"data\[0\] has 2 values but 1 columns are named"),
        (b'{"columns": ["x"], "data": [5]}', r"data\[0\] must be a list of values"),
        (b'{"instances": [[1], {"x": 1}]}', "only records"),
    ],
)
def test_malformed_bodies_are_refused_by_name(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_body(raw, PREDICT_KEYS)


def test_invocations_refuse_predict_shapes_and_name_mlflows() -> None:
    with pytest.raises(InvalidInput, match="'dataframe_split', 'dataframe_records', 'instances', 'inputs'"):
        parse_body(body({"records": [{"x": 1}]}), INVOCATION_KEYS)
    with pytest.raises(InvalidInput, match="different lengths: x=1, n=2"):
        parse_body(body({"inputs": {"x": [1], "n": [1, 2]}}), INVOCATION_KEYS)


def test_missing_required_columns_are_named_with_what_was_sent() -> None:
    with pytest.raises(InvalidInput) as info:
        conform({"columns": ["x", "other"], "data": [[1.0, 2]]})
    message = info.value.message
    assert "lacks 2 required column(s): 'n' (long), 'flag' (boolean)" in message
    assert "the request names 'x', 'other'" in message
    assert info.value.details["missing"] == [
        {"column": "n", "expected": "long"},
        {"column": "flag", "expected": "boolean"},
    ]


def test_wrong_types_name_the_column_row_expected_and_found() -> None:
    rows = [[1.0, 2, True, None], ["a", 2.5, 1, None]]
    with pytest.raises(InvalidInput) as info:
        conform({"columns": NAMES, "data": rows})
    message = info.value.message
    assert "'x' expects double, data[1] has a string ('a')" in message
    assert "'n' expects long, data[1] has a number (2.5)" in message
    assert "'flag' expects boolean, data[1] has a number (1)" in message
    assert [w["column"] for w in info.value.details["wrong"]] == ["x", "n", "flag"]


def test_booleans_are_not_numbers_and_integers_are_range_checked() -> None:
    with pytest.raises(InvalidInput, match=r"'x' expects double, records\[0\] has a boolean \(true\)"):
        conform({"records": [{"x": True, "n": 1, "flag": True}]})
    small = InputSchema(ModelSignature((ColSpec("i", "integer"),)))
    with pytest.raises(InvalidInput, match="'i' expects integer"):
        small.conform(parse_body(body({"instances": [[2**31]]}), PREDICT_KEYS))


def test_positional_rows_must_have_the_signature_width() -> None:
    with pytest.raises(InvalidInput, match=r"row 0 has 2 values; this model takes 4 \(x, n, flag, opt\)"):
        conform({"instances": [[1.0, 2]]})


def test_a_batch_frame_has_the_signature_dtypes_and_passes_enforcement_untouched() -> None:
    _names, rows = conform({"records": [{"x": 1, "n": 2, "flag": True}, {"x": 2.5, "n": -1, "flag": False}]})
    frame = SCHEMA.frame(NAMES, rows)
    assert list(frame.dtypes.astype(str)) == ["float64", "int64", "bool", "float64"]
    assert np.isnan(frame["opt"]).all()
    assert SIG.enforce(frame) is frame  # nothing left to convert: the model may skip the check


def test_all_double_signature_builds_one_block() -> None:
    schema = InputSchema(ModelSignature((ColSpec("a", "double"), ColSpec("b", "double"))))
    frame = schema.frame(["a", "b"], [[1, None], [2.5, 3]])
    expected = pd.DataFrame({"a": [1.0, 2.5], "b": [np.nan, 3.0]})
    pd.testing.assert_frame_equal(frame, expected)


def test_without_signature_rows_pass_unchecked_with_their_columns() -> None:
    schema = InputSchema(None)
    rows = parse_body(body({"records": [{"a": 1}, {"b": "x"}]}), PREDICT_KEYS)
    assert schema.conform(rows) == (["a", "b"], [[1, None], [None, "x"]])
    with pytest.raises(InvalidInput, match="no signature"):
        schema.conform(parse_body(body({"instances": [[1, 2]]}), PREDICT_KEYS))
