"""Uniform row samples that merge: a random subset of a chunk, and the union of two samples.

A profile keeps a uniform random sample of at most ``k`` rows, for the tests that need raw
values (KS). Chunks are sampled on their own and the samples merged: given a uniform sample of
``min(k, n_a)`` rows of ``n_a`` rows and one of ``min(k, n_b)`` of ``n_b``, the number of rows
a uniform ``m``-row sample of the union takes from the first side is hypergeometric
(``m`` draws from ``n_a`` "good" and ``n_b`` "bad" rows without replacement); taking that many
rows at random from the first sample and the rest from the second gives exactly such a
sample. Rows keep their order (first side, then second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["merge_samples", "sample_indices", "split_draws"]

# numpy's hypergeometric sampler wants populations below 1e9; beyond, the binomial is exact enough
_HYPERGEOMETRIC_LIMIT = 10**9 - 1


def check_sample_size(sample_size: int) -> None:
    """InvalidInput unless ``sample_size`` is an int of at least 1."""
    if isinstance(sample_size, bool) or not isinstance(sample_size, int | np.integer) or sample_size < 1:
        raise InvalidInput(
            f"sample_size must be a whole number of at least 1, got {sample_size!r}", sample_size=sample_size
        )


def sample_indices(n_rows: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a uniform random subset of ``min(k, n_rows)`` of ``n_rows`` rows."""
    if n_rows <= k:
        return np.arange(n_rows, dtype=np.intp)
    return np.sort(rng.choice(n_rows, size=k, replace=False, shuffle=False))


def split_draws(n_a: int, n_b: int, m: int, rng: np.random.Generator) -> int:
    """How many of ``m`` rows drawn without replacement from ``n_a + n_b`` come from the ``n_a``."""
    if n_a == 0 or m == 0:
        return 0
    if n_b == 0:
        return m
    if n_a + n_b <= _HYPERGEOMETRIC_LIMIT:
        return int(rng.hypergeometric(n_a, n_b, m))
    drawn = int(rng.binomial(m, n_a / (n_a + n_b)))
    return max(m - n_b, min(drawn, n_a, m))


def merge_samples(
    a: pd.DataFrame, n_a: int, b: pd.DataFrame, n_b: int, k: int, rng: np.random.Generator
) -> pd.DataFrame:
    """A uniform sample of ``min(k, n_a + n_b)`` rows of the union of two row sets, from ``a``
    (a uniform sample of ``min(k, n_a)`` of the ``n_a`` rows) and ``b`` (likewise of ``n_b``)."""
    import pandas as pd

    if len(a) != min(k, n_a) or len(b) != min(k, n_b):
        raise InvalidInput(
            f"samples of {len(a)} and {len(b)} rows cannot be samples of at most {k} of {n_a} and {n_b} rows",
        )
    m = min(k, n_a + n_b)
    from_a = split_draws(n_a, n_b, m, rng)
    take_a = a.iloc[sample_indices(len(a), from_a, rng)]
    take_b = b.iloc[sample_indices(len(b), m - from_a, rng)]
    if len(take_b) == 0:
        return take_a.reset_index(drop=True)
    if len(take_a) == 0:
        return take_b.reset_index(drop=True)
    return pd.concat([take_a, take_b], ignore_index=True)
