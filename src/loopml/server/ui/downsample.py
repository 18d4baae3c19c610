"""A metric history cut down to a point budget that keeps its shape (pure numpy, no Python loop
over points): what a chart of a 1,000,000-point history draws.

The points are split, in their logged order, into equal buckets; each bucket keeps its lowest
and its highest point (min/max decimation, as M4 does without the first/last of each bucket),
so a single spike survives however long the history is. The first and last points are always
kept, and the kept points stay in their original order. Points whose value is NaN or ±infinity
cannot be drawn: they are left out and counted.

Buckets follow the order of the points (by step, then time), not equal spans of the x axis, so
the same selection serves a chart over steps and one over wall-clock time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_POINTS", "MIN_POINTS", "Downsampled", "downsample", "select"]

#: The budget a chart asks for by default: more than a chart's width in pixels, twice over.
DEFAULT_POINTS = 2_000
#: The smallest budget: the first and last points and one bucket (its min and max).
MIN_POINTS = 4

IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Downsampled:
    """The kept points (columns in their original order), how many points the history had in
    all (``total``) and how many of them were NaN or infinite (``non_finite``, never kept)."""

    steps: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    total: int
    non_finite: int

    def to_dict(self, key: str) -> dict[str, Any]:
        """The JSON answer of the history route: ``key``, ``steps``, ``timestamps``, ``values``
        (plain lists), ``total_points`` and ``non_finite_points``."""
        return {
            "key": key,
            "steps": self.steps.tolist(),
            "timestamps": self.timestamps.tolist(),
            "values": self.values.tolist(),
            "total_points": self.total,
            "non_finite_points": self.non_finite,
        }


def select(values: Sequence[float] | npt.ArrayLike, max_points: int = DEFAULT_POINTS) -> IndexArray:
    """The indices (ascending) of at most ``max_points`` finite points of ``values`` that keep
    its shape: the first and last finite points and, per bucket of the points between them,
    the lowest and the highest. All finite points when they fit in the budget.

    ValueError when ``max_points`` is below :data:`MIN_POINTS`.
    """
    if max_points < MIN_POINTS:
        raise ValueError(f"the point budget must be at least {MIN_POINTS}, got {max_points}")
    column = np.asarray(values, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(column))
    if len(finite) <= max_points:
        return finite
    inner = finite[1:-1]
    buckets = (max_points - 2) // 2
    size = -(-len(inner) // buckets)  # ceil: every bucket but the last holds `size` points
    rows = -(-len(inner) // size)
    pad = rows * size - len(inner)
    kept = column[inner]
    lows = np.concatenate([kept, np.full(pad, np.inf)]).reshape(rows, size).argmin(axis=1)
    highs = np.concatenate([kept, np.full(pad, -np.inf)]).reshape(rows, size).argmax(axis=1)
    starts = np.arange(rows, dtype=np.intp) * size
    chosen = np.unique(np.concatenate([starts + lows, starts + highs]))  # sorted, without repeats
    return np.concatenate([finite[:1], inner[chosen], finite[-1:]])


def downsample(
    steps: Sequence[int] | npt.NDArray[np.int64],
    timestamps: Sequence[int] | npt.NDArray[np.int64],
    values: Sequence[float] | npt.ArrayLike,
    max_points: int = DEFAULT_POINTS,
) -> Downsampled:
    """The points of a history (three columns of the same length, in order) cut down to
    ``max_points`` by :func:`select`. Only the values are read whole; of the steps and
    timestamps (often plain lists, as a MetricHistory holds them) only the kept points are."""
    value_column = np.asarray(values, dtype=np.float64)
    if not len(value_column) == len(steps) == len(timestamps):
        raise ValueError(
            f"steps, timestamps and values differ in length: "
            f"{len(steps)}, {len(timestamps)}, {len(value_column)}"
        )
    index = select(value_column, max_points)
    non_finite = len(value_column) - int(np.count_nonzero(np.isfinite(value_column)))
    return Downsampled(
        steps=_pick(steps, index),
        timestamps=_pick(timestamps, index),
        values=value_column[index],
        total=len(value_column),
        non_finite=non_finite,
    )


def _pick(column: Sequence[int] | npt.NDArray[np.int64], index: IndexArray) -> npt.NDArray[np.int64]:
    """``column[index]`` as int64, without converting a whole list to an array first."""
    if isinstance(column, np.ndarray):
        return column[index].astype(np.int64, copy=False)
    return np.array([column[i] for i in index.tolist()], dtype=np.int64)
