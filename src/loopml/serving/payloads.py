"""Request bodies of the scoring server, turned into rows: what shapes are accepted, and why not.

``POST /predict`` takes ``{"records": [{col: value, ...}, ...]}``, ``{"columns": [...], "data":
[[...], ...]}`` or ``{"instances": [...]}`` (records, or lists of values in the signature's order).
``POST /invocations`` takes MLflow's bodies: ``{"dataframe_split": {"columns", "data"}}``,
``{"dataframe_records": [...]}``, ``{"instances": [...]}`` and ``{"inputs": ...}`` (a dict of columns,
records or lists), so that a client of ``mlflow models serve`` switches without changes.

Either may add ``"probabilities": true`` to get class probabilities with the predictions.
Every refusal is an :class:`~loopml.errors.InvalidInput` whose message names what is wrong
and where (``records[3]``, ``data[2]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import InvalidInput

__all__ = ["INVOCATION_KEYS", "PREDICT_KEYS", "Rows", "parse_body"]

PREDICT_KEYS = ("records", "columns", "instances")
INVOCATION_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_OPTIONS = ("probabilities",)


@dataclass(slots=True)
class Rows:
    """A body's rows: ``columns`` names the values of each row (None: positional, in the
    signature's order), ``records`` is set instead when rows came as dicts."""

    columns: list[str] | None
    rows: list[list[Any]] | None
    records: list[dict[str, Any]] | None
    probabilities: bool

    def __len__(self) -> int:
        if self.records is not None:
            return len(self.records)
        return len(self.rows or ())


def parse_body(body: bytes, keys: tuple[str, ...]) -> Rows:
    """The rows of a JSON ``body`` in one of the shapes ``keys`` names (see the module doc)."""
    if not body:
        raise InvalidInput(f"the request body is empty; send a JSON object with one of {_keys(keys)}")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not JSON: {exc}", error=str(exc)) from None
    if not isinstance(doc, dict):
        raise InvalidInput(
            f"the request body must be a JSON object with one of {_keys(keys)}, got {_kind(doc)}",
            got=_kind(doc),
        )
    given = [k for k in doc if k in keys]
    if "columns" in given and "data" in doc:
        given = ["columns"]
    unknown = [
        k for k in doc if k not in keys and k not in _OPTIONS and not (k == "data" and "columns" in doc)
    ]
    if len(given) != 1 or unknown:
        found = ", ".join(repr(k) for k in doc) or "nothing"
        raise InvalidInput(
            f"the request body must hold exactly one of {_keys(keys)}; found {found}",
            keys=list(doc),
        )
    probabilities = doc.get("probabilities", False)
    if not isinstance(probabilities, bool):
        raise InvalidInput(f"'probabilities' must be true or false, got {probabilities!r}")
    rows = _PARSERS[given[0]](doc, given[0])
    if len(rows) == 0:
        raise InvalidInput(f"{given[0]!r} holds no rows; send at least one")
    rows.probabilities = probabilities
    return rows


def _split(doc: Mapping[str, Any], key: str) -> Rows:
    """``{"columns": [...], "data": [[...]]}`` at the top (predict) or under ``dataframe_split``."""
    where = key
    if key == "dataframe_split":
        inner = doc[key]
        if not isinstance(inner, dict):
            raise InvalidInput(
                f"'dataframe_split' must be an object with 'columns' and 'data', got {_kind(inner)}"
            )
        doc = inner
        where = "dataframe_split.columns"
    columns, data = doc.get("columns"), doc.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput(f"{where!r} must be a list of column names (strings)")
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidInput(f"{where!r} names columns {twice} more than once", columns=twice)
    data_key = "dataframe_split.data" if key == "dataframe_split" else "data"
    if not isinstance(data, list):
        raise InvalidInput(f"{data_key!r} must be a list of rows (lists of values), got {_kind(data)}")
    width = len(columns)
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise InvalidInput(f"{data_key}[{i}] must be a list of values, got {_kind(row)}", row=i)
        if len(row) != width:
            raise InvalidInput(f"{data_key}[{i}] has {len(row)} values but {width} columns are named", row=i)
    return Rows(columns, data, None, False)


def _records(doc: Mapping[str, Any], key: str) -> Rows:
    records = doc[key]
    if not isinstance(records, list):
        raise InvalidInput(f"{key!r} must be a list of records (objects), got {_kind(records)}")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidInput(f"{key}[{i}] must be an object of column: value, got {_kind(rec)}", row=i)
    return Rows(None, None, records, False)


def _instances(doc: Mapping[str, Any], key: str) -> Rows:
    """A list of records, or of lists of values in the signature's order; ``inputs`` may also
    be a dict of columns."""
    value = doc[key]
    if key == "inputs" and isinstance(value, dict):
        return _columns_dict(value)
    if not isinstance(value, list):
        raise InvalidInput(f"{key!r} must be a list of records or of lists of values, got {_kind(value)}")
    if value and all(isinstance(v, dict) for v in value):
        return Rows(None, None, value, False)
    if value and all(isinstance(v, list) for v in value):
        return Rows(None, value, None, False)
    raise InvalidInput(
        f"{key!r} must hold only records (objects) or only lists of values; "
        f"{key}[0] is {_kind(value[0]) if value else 'missing'}"
    )


def _columns_dict(columns: dict[str, Any]) -> Rows:
    names = list(columns)
    values = list(columns.values())
    if not all(isinstance(v, list) for v in values):
        raise InvalidInput("'inputs' as an object must map each column to a list of values")
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        raise InvalidInput(
            f"the columns of 'inputs' have different lengths: "
            f"{', '.join(f'{n}={len(v)}' for n, v in zip(names, values, strict=True))}"
        )
    return Rows(names, [list(row) for row in zip(*values, strict=True)], None, False)


_PARSERS = {
    "columns": _split,
    "dataframe_split": _split,
    "records": _records,
    "dataframe_records": _records,
    "instances": _instances,
    "inputs": _instances,
}


def _keys(keys: tuple[str, ...]) -> str:
    return ", ".join(repr(k) for k in keys)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
