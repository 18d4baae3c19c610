"""Checking a request's rows against the model's signature, per request, before batching.

The server checks each request on its own, in plain Python (microseconds for a row), so a bad
request gets its own 400 naming the column, the row and the type expected, and never spoils the
batch it would have joined. Rows that pass are put in the signature's column order; a batch of
them becomes one DataFrame with the signature's dtypes (:meth:`InputSchema.frame`), which the
model then takes without a second check.

The rules are those of :mod:`loopml.models.enforcement`, for JSON values: numbers widen (an
integer is accepted for ``double``/``float``; a float is never accepted for ``long``/``integer``;
``integer`` must fit 32 bits), ``null`` is a missing value (accepted for ``double``/``float`` and
for optional columns), ``boolean`` takes true/false, ``string``/``datetime``/``binary`` take
strings. Columns the signature does not name are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .payloads import Rows

if TYPE_CHECKING:
    import pandas as pd

    from ..models.signature import ModelSignature

__all__ = ["InputSchema"]

_MISSING = object()
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_NUMPY_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
}


def _number(value: Any) -> bool:
    return type(value) is float or type(value) is int  # JSON numbers; a boolean is not one


def _int_in(bounds: tuple[int, int]) -> Callable[[Any], bool]:
    low, high = bounds
    return lambda v: type(v) is int and low <= v <= high


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "double": _number,
    "float": _number,
    "long": _int_in(_INT64),
    "integer": _int_in(_INT32),
    "boolean": lambda v: type(v) is bool,
    "string": lambda v: type(v) is str,
    "datetime": lambda v: type(v) is str,
    "binary": lambda v: type(v) is str,
}
_NULLABLE = frozenset({"double", "float"})
_DOUBLE_VALUES = frozenset({float, int, type(None)})  # what a "double" column takes from JSON
_SHOWN = 5  # columns named in a message; the details list them all


class InputSchema:
    """The checks of one signature (None: the model takes any columns, unchecked)."""

    def __init__(self, signature: ModelSignature | None) -> None:
        self.signature = signature
        self.names: list[str] = [] if signature is None else list(signature.input_names)
        specs = () if signature is None else signature.inputs
        self._specs = [(s.name, s.type, s.required) for s in specs]
        # every column numeric or boolean: a batch is one numpy block, no per-cell work
        self.numeric = bool(specs) and all(
            s.type in _NUMPY_DTYPES and (s.required or s.type in _NULLABLE) for s in specs
        )
        self._all_double = bool(specs) and all(s.type == "double" for s in specs)
        self._index: pd.Index | None = None

    def conform(self, rows: Rows) -> tuple[list[str], list[list[Any]]]:
        """(column names, rows in that order): the signature's columns, checked; or, without
        a signature, the columns as sent."""
        if self.signature is None:
            return self._unchecked(rows)
        if rows.records is not None:
            return self.names, self._from_records(rows.records)
        assert rows.rows is not None
        if rows.columns is None:
            return self.names, self._from_positional(rows.rows)
        return self.names, self._from_split(rows.columns, rows.rows)

    def frame(self, columns: list[str], rows: list[list[Any]]) -> pd.DataFrame:
        """One DataFrame of conformed ``rows`` with the signature's dtypes."""
        import numpy as np
        import pandas as pd

        if self._all_double:
            if self._index is None:  # one Index for every batch: cheaper frames and log checks
                self._index = pd.Index(self.names)
            return pd.DataFrame(np.array(rows, dtype=np.float64), columns=self._index, copy=False)
        if self.numeric:
            cols = list(zip(*rows, strict=True))
            return pd.DataFrame(
                {
                    name: np.array(values, dtype=_NUMPY_DTYPES[kind])
                    for (name, kind, _req), values in zip(self._specs, cols, strict=True)
                },
                copy=False,
            )
        return pd.DataFrame(rows, columns=columns)

    # ---- the shapes ---------------------------------------------------------------------------------

    def _unchecked(self, rows: Rows) -> tuple[list[str], list[list[Any]]]:
        if rows.records is not None:
            names = list(dict.fromkeys(k for rec in rows.records for k in rec))
            return names, [[rec.get(n) for n in names] for rec in rows.records]
        if rows.columns is None:
            raise InvalidInput(
                "this model has no signature, so rows given as lists need column names: "
                "send 'columns' and 'data', or records"
            )
        assert rows.rows is not None
        return rows.columns, rows.rows

    def _from_records(self, records: list[dict[str, Any]]) -> list[list[Any]]:
        names = self.names
        out = [[rec.get(n, _MISSING) for n in names] for rec in records]
        self._check(out, "records")
        return out

    def _from_positional(self, rows: list[list[Any]]) -> list[list[Any]]:
        width = len(self.names)
        for i, row in enumerate(rows):
            if len(row) != width:
                raise InvalidInput(
                    f"row {i} has {len(row)} values; this model takes {width} "
                    f"({', '.join(self.names)}), in that order",
                    row=i,
                    expected=width,
                    got=len(row),
                )
        self._check(rows, "rows")
        return rows

    def _from_split(self, columns: list[str], rows: list[list[Any]]) -> list[list[Any]]:
        if columns == self.names:
            self._check(rows, "data")
            return rows
        index = {c: i for i, c in enumerate(columns)}
        missing = [(n, t) for n, t, req in self._specs if req and n not in index]
        if missing:
            raise _missing_columns(missing, columns)
        picks = [index.get(n) for n in self.names]
        out = [[_MISSING if j is None else row[j] for j in picks] for row in rows]
        self._check(out, "data")
        return out

    def _check(self, rows: list[list[Any]], where: str) -> None:
        """Every cell against its column's type; one error naming every bad column (first row each)."""
        if self._all_double and {type(v) for row in rows for v in row} <= _DOUBLE_VALUES:
            return  # every cell a number or null: nothing to name (one pass in C, no call per cell)
        missing: list[tuple[str, str]] = []
        wrong: list[dict[str, Any]] = []
        for j, (name, kind, required) in enumerate(self._specs):
            check = _CHECKS[kind]
            for i, row in enumerate(rows):
                value = row[j]
                if check(value):
                    continue
                if value is _MISSING:
                    if required:
                        missing.append((name, kind))
                        break
                    row[j] = None
                    continue
                if value is None and (kind in _NULLABLE or not required):
                    continue
                wrong.append({"column": name, "expected": kind, "row": i, "got": _describe(value)})
                break
        if missing:
            raise _missing_columns(missing)
        if wrong:
            detail = "; ".join(
                f"{w['column']!r} expects {w['expected']}, {where}[{w['row']}] has {w['got']}" for w in wrong
            )
            raise InvalidInput(f"the input does not match the model's signature: {detail}", wrong=wrong)


def _missing_columns(missing: list[tuple[str, str]], given: list[str] | None = None) -> InvalidInput:
    names = ", ".join(f"{n!r} ({t})" for n, t in missing[:_SHOWN])
    more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
    sent = ""
    if given is not None:
        shown = ", ".join(repr(c) for c in given[:_SHOWN])
        sent = f"; the request names {shown}" + (
            f" and {len(given) - _SHOWN} more" if len(given) > _SHOWN else ""
        )
    return InvalidInput(
        f"the input lacks {len(missing)} required column(s): {names}{more}{sent}",
        missing=[{"column": n, "expected": t} for n, t in missing],
    )


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({text!r})"
    return "an object" if isinstance(value, dict) else "a list"
