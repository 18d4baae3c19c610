"""Finding the rows of a chunk the model signature refuses, and why, column by column.

Batch scoring enforces the signature on a whole chunk first (:meth:`ModelSignature.enforce`,
one check per column). Only when that fails does it come here, to split the chunk: each
column is converted to its signature type with vectorized pandas operations
(``pd.to_numeric(errors="coerce")``, ``pd.to_datetime``...), and a row whose value does not
convert, or that lacks a value the type needs, is rejected with a reason such as::

    column 'income' must be double, got 'n/a'; column 'age' must be long, got a missing value

The rules are the signature's (docs/models.md): missing values are refused for integer types
only; ``string`` takes any value, as text. pandas is imported by the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..models.signature import ModelSignature

__all__ = ["RowCheck", "check_rows", "join_reasons"]

_INT_RANGES = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
_INT_DTYPES = {"long": "int64", "integer": "int32"}
_FLOAT_DTYPES = {"double": "float64", "float": "float32"}
_TRUE = frozenset({"true", "1", "1.0", "yes"})
_FALSE = frozenset({"false", "0", "0.0", "no"})
_SHOWN = 80

# A conversion returns the column in its signature type (anything in the rows it refuses)
# and the mask of the refused rows.
Conversion = Callable[["pd.Series"], tuple["pd.Series", "np.ndarray"]]


@dataclass(frozen=True)
class RowCheck:
    """The rows of a chunk that pass (converted) and the reasons of those that do not."""

    frame: pd.DataFrame  # the rows that pass, with their columns converted; the index is kept
    reasons: pd.Series  # str, indexed like the input, one entry per refused row


def check_rows(frame: pd.DataFrame, signature: ModelSignature) -> RowCheck:
    """Split ``frame`` (the columns of a chunk the signature names) into rows that pass and
    rows that do not. Columns absent from ``frame`` are not checked here (a missing required
    column is an error about the file, raised before)."""
    import numpy as np
    import pandas as pd

    refused = np.zeros(len(frame), dtype=bool)
    converted: dict[str, pd.Series] = {}
    problems: list[tuple[str, str, np.ndarray]] = []
    for spec in signature.inputs:
        if spec.name not in frame.columns:
            continue
        column, bad = _CONVERSIONS[spec.type](frame[spec.name])
        converted[spec.name] = column
        if bad.any():
            refused |= bad
            problems.append((spec.name, spec.type, bad))
    reasons = pd.Series("", index=frame.index[refused], dtype=object)
    for name, kind, bad in problems:
        values = frame[name][bad]
        reasons = join_reasons(reasons, f"column {name!r} must be {kind}, got " + describe_values(values))
    kept = frame.assign(**converted)[~refused] if converted else frame[~refused]
    return RowCheck(kept, reasons)


def join_reasons(reasons: pd.Series, more: pd.Series) -> pd.Series:
    """``reasons`` with ``more`` appended (after ``"; "``) on the rows of ``more``'s index."""
    import pandas as pd

    current = reasons.reindex(reasons.index.union(more.index), fill_value="").astype(object)
    head = current.loc[more.index]
    current.loc[more.index] = (head + "; ").where(head != "", "") + more.astype(object)
    return pd.Series(current, dtype=object)


def describe_values(values: pd.Series) -> pd.Series:
    """What was found in each cell, for a reason: ``'abc'`` (text, quoted), ``1.5``, ``a missing value``."""
    texts = values.astype(str).str.slice(0, _SHOWN)
    if values.dtype.kind not in "biufcmM":
        texts = "'" + texts + "'"
    return texts.astype(object).where(values.notna(), "a missing value")


def _floats(kind: str) -> Conversion:
    def convert(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
        import pandas as pd

        dtype = column.dtype
        if dtype.kind in "iuf":
            return column.astype(_FLOAT_DTYPES[kind]), _none(column)
        numbers = _numbers(column)
        bad = (numbers.isna() & column.notna()).to_numpy()
        return pd.Series(numbers, index=column.index).astype(_FLOAT_DTYPES[kind]), bad

    return convert


def _ints(kind: str) -> Conversion:
    low, high = _INT_RANGES[kind]

    def convert(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
        numbers = column if column.dtype.kind in "iu" else _numbers(column)
        if numbers.dtype.kind in "iu":
            bad = ((numbers < low) | (numbers > high)).to_numpy()
        else:
            whole = numbers.notna() & (numbers % 1 == 0) & (numbers >= low) & (numbers <= high)
            bad = (~whole).to_numpy()
        return numbers.where(~bad, 0).astype(_INT_DTYPES[kind]), bad

    return convert


def _numbers(column: pd.Series) -> pd.Series:
    """Numbers from text (or mixed) values; NaN where a value is not a number; booleans are not."""
    import numpy as np
    import pandas as pd

    if column.dtype.kind == "b":
        return pd.Series(np.nan, index=column.index)
    return pd.to_numeric(column, errors="coerce")


def _boolean(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if column.dtype.kind == "b":
        return column, _none(column)
    if column.dtype.kind in "iuf":
        words = column.astype(str).str.removesuffix(".0")
    else:
        words = column.astype(str).str.strip().str.lower()
    true, false = words.isin(_TRUE), words.isin(_FALSE)
    missing = column.isna()
    bad = (~(true | false) & ~missing).to_numpy()
    values = true.astype(object).where(~missing, None)
    if not missing.any():
        values = values.astype(bool)
    return values, bad


def _string(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    import pandas as pd

    if isinstance(column.dtype, pd.StringDtype):
        return column, _none(column)
    return column.astype("str"), _none(column)


def _datetime(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    import pandas as pd

    if column.dtype.kind == "M":
        return column, _none(column)
    parsed = pd.to_datetime(column, errors="coerce", format="ISO8601")
    return parsed, (parsed.isna() & column.notna()).to_numpy()


def _binary(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    bad = (column.notna() & ~column.map(lambda v: isinstance(v, bytes | bytearray))).to_numpy()
    return column.astype(object), bad


def _none(column: pd.Series) -> np.ndarray:
    import numpy as np

    return np.zeros(len(column), dtype=bool)


_CONVERSIONS: dict[str, Any] = {
    "double": _floats("double"),
    "float": _floats("float"),
    "long": _ints("long"),
    "integer": _ints("integer"),
    "boolean": _boolean,
    "string": _string,
    "datetime": _datetime,
    "binary": _binary,
}
