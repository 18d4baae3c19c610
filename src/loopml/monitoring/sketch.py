"""A mergeable quantile sketch with relative accuracy (DDSketch, Masson et al., VLDB 2019).

A value ``x`` falls in the bucket ``k = ceil(log|x| / log gamma)`` with
``gamma = (1 + alpha) / (1 - alpha)``: bucket ``k`` holds ``(gamma^(k-1), gamma^k]``, and its
representative ``2 gamma^k / (gamma + 1)`` is within a relative ``alpha`` of every value in it.
Positive and negative values have stores of their own; values with ``|x| < 1e-12`` are counted
as zeros. A store is dense — an offset and a numpy array of counts — so adding a chunk is one
``np.bincount``, and merging two sketches adds counts: a merged sketch equals the sketch of the
whole, exactly, in any order. Even a range of 1e-12 .. 1e308 needs at most ~74,000 buckets.

Why this sketch: a reference profile is built from chunks (files, days) and merged, and its
quantiles must not depend on how the data was cut; heavy tails and huge ranges must keep their
relative precision, which rank-error sketches (t-digest, KLL) do not promise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import InvalidInput

__all__ = ["DEFAULT_ALPHA", "ZERO_THRESHOLD", "QuantileSketch"]

DEFAULT_ALPHA = 0.005
ZERO_THRESHOLD = 1e-12


class _Store:
    """Counts of bucket keys ``offset .. offset + len(counts) - 1``, dense."""

    __slots__ = ("counts", "offset")

    def __init__(self, offset: int = 0, counts: np.ndarray | None = None) -> None:
        self.offset = offset
        self.counts = np.zeros(0, np.int64) if counts is None else counts.astype(np.int64)

    def copy(self) -> _Store:
        return _Store(self.offset, self.counts.copy())

    def _cover(self, lo: int, hi: int) -> None:
        """Grow the array so that keys ``lo .. hi`` have a slot."""
        if self.counts.size == 0:
            self.offset, self.counts = lo, np.zeros(hi - lo + 1, np.int64)
            return
        start, end = min(lo, self.offset), max(hi, self.offset + self.counts.size - 1)
        if start == self.offset and end == self.offset + self.counts.size - 1:
            return
        grown = np.zeros(end - start + 1, np.int64)
        grown[self.offset - start : self.offset - start + self.counts.size] = self.counts
        self.offset, self.counts = start, grown

    def add_keys(self, keys: np.ndarray) -> None:
        """Count float-valued integral keys (one ``bincount``, no Python loop)."""
        if keys.size == 0:
            return
        lo, hi = int(keys.min()), int(keys.max())
        self._cover(lo, hi)
        keys -= lo
        counted = np.bincount(keys.astype(np.intp), minlength=hi - lo + 1)
        self.counts[lo - self.offset : hi - self.offset + 1] += counted

    def add_store(self, other: _Store) -> None:
        self.add_counts(other.offset, other.counts)

    def add_counts(self, offset: int, counts: np.ndarray) -> None:
        """Add ``counts`` of keys ``offset, offset + 1, ...``, ignoring empty ends."""
        where = np.flatnonzero(counts)
        if where.size == 0:
            return
        first, last = int(where[0]), int(where[-1])
        self._cover(offset + first, offset + last)
        start = offset + first - self.offset
        self.counts[start : start + last - first + 1] += counts[first : last + 1]

    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, counts) of the buckets holding values, keys ascending."""
        where = np.flatnonzero(self.counts)
        return where + self.offset, self.counts[where]

    def to_dict(self) -> dict[str, Any]:
        """Offset and counts, with the empty buckets at both ends trimmed."""
        where = np.flatnonzero(self.counts)
        if where.size == 0:
            return {"offset": 0, "counts": []}
        first, last = int(where[0]), int(where[-1])
        return {"offset": self.offset + first, "counts": self.counts[first : last + 1].tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _Store:
        return cls(int(data["offset"]), np.asarray(data["counts"], np.int64))


class QuantileSketch:
    """Quantiles within a relative ``alpha`` (0.5 % by default), exactly mergeable.

    ``add(values)`` counts the finite values of an array (NaN and +-inf are ignored: the
    profile counts them as missing); ``merge(other)`` returns a new sketch of both.
    """

    __slots__ = ("_gamma", "_inv_log_gamma", "_negative", "_positive", "alpha", "count", "max", "min", "zero")

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        if not 0.0 < alpha < 1.0:
            raise InvalidInput(f"sketch alpha must be between 0 and 1, got {alpha!r}", alpha=alpha)
        self.alpha = float(alpha)
        self._gamma = (1.0 + alpha) / (1.0 - alpha)
        self._inv_log_gamma = 1.0 / math.log(self._gamma)
        self._positive = _Store()
        self._negative = _Store()
        self.zero = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def __repr__(self) -> str:
        return f"QuantileSketch(count={self.count}, min={self.min}, max={self.max}, alpha={self.alpha})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable while being built

    # ------------------------------------------------------------------------------ building

    def add(self, values: Any) -> None:
        """Count the finite values of ``values`` (array-like of numbers), vectorised."""
        x = np.asarray(values, dtype=np.float64).ravel()
        finite = np.isfinite(x)
        if not finite.all():
            x = x[finite]
        self.add_finite(x)

    def add_finite(self, x: np.ndarray) -> None:
        """Count a float64 array known to hold only finite values (the profile's fast path)."""
        if x.size == 0:
            return
        low, high = float(x.min()), float(x.max())
        self.count += int(x.size)
        self.min, self.max = min(self.min, low), max(self.max, high)
        if low >= ZERO_THRESHOLD:  # the common case: all positive, no masks
            self._positive.add_keys(self._keys(x))
            return
        if high <= -ZERO_THRESHOLD:  # all negative
            self._negative.add_keys(self._keys(-x))
            return
        self._add_mixed(x)

    def _add_mixed(self, x: np.ndarray) -> None:
        """Values of both signs (and zeros) in one pass of logs and one ``bincount``: the keys
        of negative values are shifted past those of positive ones, zeros get a key of their
        own below every real key, and the counts are split afterwards."""
        magnitudes = np.abs(x)
        zeros = magnitudes < ZERO_THRESHOLD
        n_zero = int(np.count_nonzero(zeros))
        if n_zero:
            magnitudes[zeros] = 1.0  # any key: these are taken out below
        keys = self._keys(magnitudes)
        lo, hi = int(keys.min()), int(keys.max())
        width = hi - lo + 2  # slot 0 of each half: the zeros
        keys -= lo - 1
        if n_zero:
            keys[zeros] = 0.0
        np.add(keys, width, out=keys, where=x < 0)
        counts = np.bincount(keys.astype(np.intp), minlength=2 * width)
        self.zero += n_zero
        self._positive.add_counts(lo, counts[1:width])
        self._negative.add_counts(lo, counts[width + 1 :])

    def _keys(self, magnitudes: np.ndarray) -> np.ndarray:
        """``ceil(log(x) / log(gamma))`` as floats, computed in place on a fresh array."""
        keys: np.ndarray = np.log(magnitudes)
        keys *= self._inv_log_gamma
        np.ceil(keys, out=keys)
        return keys

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """A new sketch of the values of both: bucket counts add, so it equals the whole."""
        if other.alpha != self.alpha:
            raise InvalidInput(
                f"cannot merge quantile sketches of different accuracy: {self.alpha} and {other.alpha}",
                alpha=[self.alpha, other.alpha],
            )
        merged = self.copy()
        merged._positive.add_store(other._positive)
        merged._negative.add_store(other._negative)
        merged.zero += other.zero
        merged.count += other.count
        merged.min, merged.max = min(self.min, other.min), max(self.max, other.max)
        return merged

    def copy(self) -> QuantileSketch:
        twin = QuantileSketch(self.alpha)
        twin._positive, twin._negative = self._positive.copy(), self._negative.copy()
        twin.zero, twin.count, twin.min, twin.max = self.zero, self.count, self.min, self.max
        return twin

    # ------------------------------------------------------------------------------ reading

    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """(representative values ascending, counts) of the non-empty buckets, clamped to
        [min, max] so that no representative lies outside the data."""
        scale = 2.0 / (self._gamma + 1.0)
        log_gamma = 1.0 / self._inv_log_gamma
        neg_keys, neg_counts = self._negative.nonzero()
        pos_keys, pos_counts = self._positive.nonzero()
        with np.errstate(over="ignore"):
            negatives = -np.exp(neg_keys[::-1] * log_gamma) * scale
            positives = np.exp(pos_keys * log_gamma) * scale
        zeros = np.zeros(1 if self.zero else 0)
        values = np.concatenate([negatives, zeros, positives])
        counts = np.concatenate([neg_counts[::-1], np.full(zeros.size, self.zero, np.int64), pos_counts])
        if values.size:
            np.clip(values, self.min, self.max, out=values)
        return values, counts

    def quantiles(self, qs: Iterable[float] | float) -> np.ndarray:
        """The values at quantiles ``qs`` (each in [0, 1]): the bucket of the value of rank
        ``floor(q * (count - 1))``, within a relative ``alpha`` of it (q = 0 and 1: the exact
        min and max). NaN when empty."""
        q = np.atleast_1d(np.asarray(qs, dtype=np.float64))
        if q.size and not ((q >= 0.0) & (q <= 1.0)).all():
            raise InvalidInput(f"quantiles must lie in [0, 1], got {q.tolist()!r}", quantiles=q.tolist())
        if self.count == 0:
            return np.full(q.shape, np.nan)
        values, counts = self.buckets()
        cumulative = np.cumsum(counts)
        index = np.searchsorted(cumulative, np.floor(q * (self.count - 1)), side="right")
        result: np.ndarray = values[np.minimum(index, values.size - 1)]
        result[q == 0.0], result[q == 1.0] = self.min, self.max  # the extremes are known exactly
        return result

    def counts_in(self, edges: Any) -> np.ndarray:
        """Counts per bin ``[e0, e1), ..., [e_{k-1}, e_k]`` (each bucket where its representative
        falls); values below ``e0`` count in the first bin, above ``e_k`` in the last."""
        e = np.asarray(edges, dtype=np.float64)
        if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) < 0):
            raise InvalidInput(
                f"bin edges must be at least two ascending numbers, got {e.tolist()!r}", edges=e.tolist()
            )
        bins = e.size - 1
        values, counts = self.buckets()
        index = np.clip(np.searchsorted(e, values, side="right") - 1, 0, bins - 1)
        return np.bincount(index, weights=counts, minlength=bins).astype(np.int64)

    # ------------------------------------------------------------------------------ storing

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: alpha, count, min, max, zero count and both stores (offset + counts)."""
        empty = self.count == 0
        return {
            "alpha": self.alpha,
            "count": self.count,
            "min": None if empty else self.min,
            "max": None if empty else self.max,
            "zero": self.zero,
            "positive": self._positive.to_dict(),
            "negative": self._negative.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """The sketch :meth:`to_dict` described."""
        try:
            sketch = cls(float(data["alpha"]))
            sketch._positive = _Store.from_dict(data["positive"])
            sketch._negative = _Store.from_dict(data["negative"])
            sketch.zero, sketch.count = int(data["zero"]), int(data["count"])
            if sketch.count:
                sketch.min, sketch.max = float(data["min"]), float(data["max"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"not a quantile sketch: {exc!r}") from exc
        return sketch
