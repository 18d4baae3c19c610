"""Enforcing a ModelSignature on model input: every problem found, named, in one error.

Rules (documented in docs/models.md):

- a required column that is missing is an error; an optional one may be absent;
- numbers widen: any integer or float column is accepted for ``double`` (cast to float64) and
  ``float`` (cast to float32, as JSON has no float32); ``long`` takes any integer column
  (cast to int64), ``integer`` any integer column whose values fit 32 bits (cast to int32);
  a float column is never accepted for an integer type, and missing values never are;
- ``string`` takes str columns (object or pandas' str dtype) and categoricals of strings;
- ``datetime`` takes datetime64 columns, and strings in ISO 8601 (parsed);
- ``boolean`` takes bool columns; ``binary`` takes columns of bytes;
- columns not in the signature are dropped (``extra_columns="ignore"``) or are an error
  (``extra_columns="error"``).

A DataFrame that already matches is returned as it is, without a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .inputs import to_frame

if TYPE_CHECKING:
    import pandas as pd

    from .signature import ExtraColumns, ModelSignature

__all__ = ["enforce_signature"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64_MAX = 2**63 - 1

# A check returns (None, None) when the column is fine as it is, (None, cast column) when it
# is accepted after a cast, and (description of what was found, None) when it is refused.
Outcome = tuple[str | None, Any]


def enforce_signature(signature: ModelSignature, data: Any, extra_columns: ExtraColumns) -> pd.DataFrame:
    if extra_columns not in ("ignore", "error"):
        raise InvalidInput(
            f"extra_columns must be 'ignore' or 'error', got {extra_columns!r}",
            extra_columns=str(extra_columns),
        )
    frame = to_frame(data)
    columns = list(frame.columns)
    if len(set(columns)) != len(columns):
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidInput(f"model input names columns {duplicated} more than once", columns=duplicated)
    dtypes = dict(zip(columns, frame.dtypes, strict=True))
    missing: list[dict[str, str]] = []
    wrong: list[dict[str, str]] = []
    casts: dict[str, Any] = {}
    for spec in signature.inputs:
        if spec.name not in dtypes:
            if spec.required:
                missing.append({"column": spec.name, "expected": spec.type})
            continue
        got, cast = _CHECKS[spec.type](frame, spec.name, dtypes[spec.name])
        if got is not None:
            wrong.append({"column": spec.name, "expected": spec.type, "got": got})
        elif cast is not None:
            casts[spec.name] = cast
    names = set(signature.input_names)
    extra = [c for c in columns if c not in names] if extra_columns == "error" else []
    if missing or wrong or extra:
        raise _mismatch(missing, wrong, extra)
    wanted = [spec.name for spec in signature.inputs if spec.name in dtypes]
    out = frame if columns == wanted else frame[wanted]
    return out.assign(**casts) if casts else out


def _mismatch(missing: list[dict[str, str]], wrong: list[dict[str, str]], extra: list[str]) -> InvalidInput:
    parts = [f"required column {m['column']!r} ({m['expected']}) is missing" for m in missing]
    parts += [f"column {w['column']!r} must be {w['expected']}, got {w['got']}" for w in wrong]
    parts += [f"column {c!r} is not in the signature (extra_columns='error')" for c in extra]
    return InvalidInput(
        "model input does not match the signature: " + "; ".join(parts),
        missing=missing,
        wrong_type=wrong,
        extra=extra,
    )


def _describe(frame: pd.DataFrame, name: str, dtype: Any) -> str:
    """What a refused column holds: its dtype, and for object columns what is inside."""
    import pandas as pd

    column = frame[name]
    if getattr(dtype, "kind", "O") == "O" and not isinstance(dtype, pd.CategoricalDtype | pd.StringDtype):
        return f"object ({pd.api.types.infer_dtype(column, skipna=True)} values)"
    if column.hasnans and getattr(dtype, "kind", "") == "f":
        return f"{dtype} (with missing values)"
    return str(dtype)


def _floats(target: str) -> Callable[[pd.DataFrame, str, Any], Outcome]:
    def check(frame: pd.DataFrame, name: str, dtype: Any) -> Outcome:
        kind = getattr(dtype, "kind", "O")
        if kind not in "fiu":
            return _describe(frame, name, dtype), None
        if dtype == target:
            return None, None
        return None, frame[name].astype(target)

    return check


def _ints(target: str) -> Callable[[pd.DataFrame, str, Any], Outcome]:
    low, high = _INT32 if target == "int32" else (-_INT64_MAX - 1, _INT64_MAX)

    def check(frame: pd.DataFrame, name: str, dtype: Any) -> Outcome:
        kind = getattr(dtype, "kind", "O")
        if kind not in "iu":
            return _describe(frame, name, dtype), None
        if dtype == target:
            return None, None
        column = frame[name]
        if column.hasnans:
            return f"{dtype} (with missing values)", None
        if len(column) and (int(column.min()) < low or int(column.max()) > high):
            return f"{dtype} (values outside the range of {target})", None
        return None, column.astype(target)

    return check


def _boolean(frame: pd.DataFrame, name: str, dtype: Any) -> Outcome:
    import pandas as pd

    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return None, None
    column = frame[name]
    if kind == "O" and pd.api.types.infer_dtype(column, skipna=True) == "boolean":
        return None, column.astype("boolean" if column.hasnans else bool)
    return _describe(frame, name, dtype), None


def _string(frame: pd.DataFrame, name: str, dtype: Any) -> Outcome:
    import pandas as pd

    if isinstance(dtype, pd.StringDtype):
        return None, None
    if isinstance(dtype, pd.CategoricalDtype):
        found = pd.api.types.infer_dtype(dtype.categories, skipna=True)
        return (None, None) if found in ("string", "empty") else (f"category of {found} values", None)
    if getattr(dtype, "kind", "") == "O":
        found = pd.api.types.infer_dtype(frame[name], skipna=True)
        if found in ("string", "empty"):
            return None, None
    return _describe(frame, name, dtype), None


def _datetime(frame: pd.DataFrame, name: str, dtype: Any) -> Outcome:
    import pandas as pd

    if getattr(dtype, "kind", "") == "M":
        return None, None
    column = frame[name]
    if isinstance(dtype, pd.StringDtype) or getattr(dtype, "kind", "") == "O":
        found = pd.api.types.infer_dtype(column, skipna=True)
        if found in ("string", "datetime", "date", "datetime64"):
            try:
                return None, pd.to_datetime(column, format="ISO8601" if found == "string" else None)
            except (ValueError, TypeError):
                return f"{dtype} (values that are not ISO 8601 datetimes)", None
    return _describe(frame, name, dtype), None


def _binary(frame: pd.DataFrame, name: str, dtype: Any) -> Outcome:
    import pandas as pd

    plain_object = getattr(dtype, "kind", "") == "O" and not isinstance(
        dtype, pd.StringDtype | pd.CategoricalDtype
    )
    if plain_object and pd.api.types.infer_dtype(frame[name], skipna=True) in ("bytes", "empty"):
        return None, None
    return _describe(frame, name, dtype), None


_CHECKS: dict[str, Callable[[pd.DataFrame, str, Any], Outcome]] = {
    "double": _floats("float64"),
    "float": _floats("float32"),
    "long": _ints("int64"),
    "integer": _ints("int32"),
    "boolean": _boolean,
    "string": _string,
    "datetime": _datetime,
    "binary": _binary,
}
