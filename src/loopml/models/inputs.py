"""The shapes model input may take, turned into one pandas DataFrame.

A DataFrame passes through untouched (no copy); a list of records (dicts), a dict of columns
and a single record (a dict of scalars) become one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["to_frame"]

_SHAPES = "a pandas DataFrame, a list of records (dicts) or a dict of columns"


def to_frame(data: Any, *, what: str = "model input") -> pd.DataFrame:
    """``data`` as a DataFrame whose column labels are all str; InvalidInput for other shapes."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        if data.name is None:
            raise InvalidInput(f"{what} is an unnamed pandas Series; name it or pass a DataFrame")
        frame = data.to_frame()
    elif isinstance(data, Mapping):
        frame = _from_mapping(data, what)
    elif isinstance(data, list | tuple) and data and all(isinstance(row, Mapping) for row in data):
        frame = pd.DataFrame.from_records(list(data))
    else:
        raise InvalidInput(f"{what} must be {_SHAPES}, got {_describe(data)}", type=type(data).__name__)
    if not all(isinstance(label, str) for label in frame.columns):
        frame = frame.rename(columns=str)
    return frame


def _from_mapping(data: Mapping[Any, Any], what: str) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if not data:
        raise InvalidInput(f"{what} is an empty dict; give at least one column")
    columnar = [
        isinstance(v, Sequence | np.ndarray | pd.Series | pd.Index) and not isinstance(v, str | bytes)
        for v in data.values()
    ]
    if not any(columnar):
        return pd.DataFrame.from_records([dict(data)])
    if not all(columnar):
        scalars = [str(k) for k, col in zip(data, columnar, strict=True) if not col]
        raise InvalidInput(
            f"{what} mixes columns (lists) and single values; columns {scalars} are single values",
            columns=scalars,
        )
    try:
        return pd.DataFrame(dict(data))
    except ValueError as exc:
        raise InvalidInput(f"{what} is not a valid dict of columns: {exc}") from exc


def _describe(data: Any) -> str:
    if isinstance(data, list | tuple) and not data:
        return f"an empty {type(data).__name__}"
    shape = getattr(data, "shape", None)
    return f"{type(data).__name__}" + (f" of shape {shape}" if shape is not None else "")
