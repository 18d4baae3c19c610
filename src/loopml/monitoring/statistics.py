"""The statistics behind the drift tests: pure functions on numpy arrays and count vectors.

Each function equals scipy's reference computation on the same inputs (the unit tests compare
them), but most are computed here with numpy so that a drift report over a hundred columns does
not pay scipy's per-call validation overhead:

===========================  ==========================================================
``ks(ref, cur)``             ``scipy.stats.ks_2samp`` two-sided: exact p-value when both
                             samples have at most ``KS_EXACT_MAX_N`` values, otherwise
                             ``method="asymp"`` (scipy's own "auto" goes exact up to 10,000
                             values, which costs up to ~75 ms a column with unequal sizes).
``wasserstein(ref, cur)``    ``scipy.stats.wasserstein_distance`` (1-D, unweighted).
``jensenshannon(p, q)``      ``scipy.spatial.distance.jensenshannon(p, q, base=2)``: a
                             distance in [0, 1]; counts are normalised first.
``chi_square(r, c)``         ``scipy.stats.chi2_contingency(table, correction=False)`` on the
                             2 x K table after ``pool_sparse`` (categories whose expected
                             count is below 5 pooled into one column).
``psi(r, c)``                the Population Stability Index (no scipy counterpart).
``two_proportions(...)``     two-sided z test = ``chi2_contingency`` 2 x 2 without correction.
===========================  ==========================================================

No Yates correction, even for 2 x 2 tables (boolean columns): Yates' correction is known to be
overly conservative, pooling already guarantees expected counts of at least 5 (where Pearson's
statistic is well calibrated), and small-sample false alarms are prevented by the effect-size
half of the drift rule, not by weakening the test.

An empty side gives ``nan`` everywhere (never an exception, never a warning).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt

__all__ = [
    "KS_EXACT_MAX_N",
    "MIN_EXPECTED",
    "PSI_FLOOR",
    "chi_square",
    "chi_square_table",
    "cohen_h",
    "drift_scale",
    "jensenshannon",
    "ks",
    "ks_and_wasserstein",
    "max_cohen_h",
    "pool_sparse",
    "psi",
    "shares",
    "two_proportions",
    "wasserstein",
    "wasserstein_norm",
]

FloatArray = npt.NDArray[np.float64]

KS_EXACT_MAX_N = 1_000
"""Largest sample (each side) for which the KS p-value is computed exactly."""

PSI_FLOOR = 1e-4
"""Shares below this are raised to it in the PSI, so an empty bin on one side costs
``(share - 1e-4) * ln(share / 1e-4)`` instead of infinity (Evidently and most PSI write-ups use
the same 0.0001). The floored shares are not renormalised."""

MIN_EXPECTED = 5.0
"""Chi-square categories with an expected count below this (on either side) are pooled."""


def _floats(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def _cdf_gaps(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """The pooled sorted values, ``F_ref - F_cur`` at each of them and a mask of the last value
    of each run of ties (where the right-continuous ECDFs are read): a merge of the two sorted
    samples instead of binary searches."""
    pooled = np.concatenate([np.sort(ref), np.sort(cur)])
    order = np.argsort(pooled, kind="stable")  # merges the two sorted runs
    pooled = pooled[order]
    from_ref = order < ref.size
    gaps = np.cumsum(from_ref) / ref.size - np.cumsum(~from_ref) / cur.size
    run_ends = np.ones(pooled.size, dtype=bool)
    np.not_equal(pooled[1:], pooled[:-1], out=run_ends[:-1])
    return pooled, gaps, run_ends


def _wasserstein_from_gaps(pooled: FloatArray, gaps: FloatArray) -> float:
    # inside a run of ties the step width is 0, so only the runs' last gaps count
    return float(np.sum(np.abs(gaps[:-1]) * np.diff(pooled)))


def _ks_asymp_p_value(d: float, n1: int, n2: int) -> float:
    """scipy's ``ks_2samp(method="asymp")`` two-sided p-value."""
    from scipy import stats

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_and_wasserstein(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float, float]:
    """``(D, p_value, W)``: the two-sample KS statistic and p-value and the Wasserstein-1 distance,
    from one sort of the two samples (what a numeric column's default rule needs). The samples must
    hold finite values only."""
    ref, cur = _floats(reference), _floats(current)
    if ref.size == 0 or cur.size == 0:
        return math.nan, math.nan, math.nan
    pooled, gaps, run_ends = _cdf_gaps(ref, cur)
    w = _wasserstein_from_gaps(pooled, gaps)
    if max(ref.size, cur.size) <= KS_EXACT_MAX_N:
        return (*_ks_exact(ref, cur), w)
    d = float(np.max(np.abs(gaps[run_ends])))
    return d, _ks_asymp_p_value(d, ref.size, cur.size), w


def _ks_exact(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ks_2samp(ref, cur, method="exact")
    return float(result.statistic), float(result.pvalue)


def ks(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample two-sided Kolmogorov-Smirnov test: ``(D, p_value)``, as ``scipy.stats.ks_2samp``
    (exact p-value up to ``KS_EXACT_MAX_N`` values a side, asymptotic above)."""
    d, p, _ = ks_and_wasserstein(reference, current)
    return d, p


def wasserstein(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Wasserstein-1 (earth mover's) distance between two samples, as
    ``scipy.stats.wasserstein_distance``; ``nan`` when a side is empty."""
    ref, cur = _floats(reference), _floats(current)
    if ref.size == 0 or cur.size == 0:
        return math.nan
    pooled, gaps, _ = _cdf_gaps(ref, cur)
    return _wasserstein_from_gaps(pooled, gaps)


def drift_scale(reference: npt.ArrayLike, current: npt.ArrayLike, reference_std: float | None) -> float:
    """The scale Wasserstein distances are divided by: the reference's standard deviation, or —
    for a constant reference — the pooled samples' (so a constant column that moves to another
    constant scores >= 2 instead of infinity); 0.0 only when both sides are one constant."""
    if reference_std is not None and math.isfinite(reference_std) and reference_std > 0:
        return float(reference_std)
    ref = _floats(reference)
    for values in (ref, np.concatenate([ref, _floats(current)])):
        if values.size:
            std = float(np.std(values))
            if std > 0 and math.isfinite(std):
                return std
    return 0.0


def wasserstein_norm(distance: float, scale: float) -> float:
    """``distance / scale``; 0.0 when both are 0 (two identical constants), ``inf`` otherwise
    when ``scale`` is 0."""
    if math.isnan(distance):
        return math.nan
    if scale > 0:
        return distance / scale
    return 0.0 if distance == 0 else math.inf


def shares(counts: npt.ArrayLike) -> FloatArray:
    """Counts divided by their total (all ``nan`` when the total is 0)."""
    values = _floats(counts)
    total = float(values.sum())
    if total <= 0:
        return np.full(values.shape, np.nan)
    return np.divide(values, total)


def psi(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, floor: float = PSI_FLOOR) -> float:
    """Population Stability Index ``sum((c - r) * ln(c / r))`` over the bins' shares, shares
    floored at ``floor`` (see ``PSI_FLOOR``); ``nan`` when a side has no values."""
    r, c = shares(reference_counts), shares(current_counts)
    if r.size == 0 or np.isnan(r).any() or np.isnan(c).any():
        return math.nan
    r, c = np.maximum(r, floor), np.maximum(c, floor)
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance with base-2 logarithms (in [0, 1]) between two count vectors, as
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``; ``nan`` when a side has no values."""
    p, q = shares(reference_counts), shares(current_counts)
    if p.size == 0 or np.isnan(p).any() or np.isnan(q).any():
        return math.nan
    m = (p + q) / 2.0
    total = 0.0
    for side in (p, q):
        positive = side > 0
        total += float(np.sum(side[positive] * np.log(side[positive] / m[positive])))
    return math.sqrt(max(total / 2.0, 0.0) / math.log(2.0))


def pool_sparse(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, min_expected: float = MIN_EXPECTED
) -> FloatArray:
    """The 2 x K' contingency table of two count vectors with empty categories dropped and the
    categories whose expected count is below ``min_expected`` on either side pooled into one
    last column (itself merged into the smallest remaining column if still below)."""
    table = np.vstack([_floats(reference_counts), _floats(current_counts)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.size == 0 or rows.min() <= 0:
        return table
    expected_min = rows.min() * table.sum(axis=0) / rows.sum()
    sparse = expected_min < min_expected
    if not sparse.any():
        return table
    kept, pooled = table[:, ~sparse], table[:, sparse].sum(axis=1, keepdims=True)
    if rows.min() * pooled.sum() / rows.sum() < min_expected and kept.shape[1] > 0:
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept = kept.copy()
        kept[:, smallest] += pooled[:, 0]
        return kept
    return np.hstack([kept, pooled])


def chi_square(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, min_expected: float = MIN_EXPECTED
) -> tuple[float, float, int]:
    """Chi-square test of homogeneity of two count vectors over the same categories (a category
    seen on one side only has a 0 on the other): ``(statistic, p_value, dof)`` as
    ``scipy.stats.chi2_contingency(pool_sparse(r, c), correction=False)``. One category left
    after pooling gives ``(0.0, 1.0, 0)``; an empty side ``(nan, nan, 0)``."""
    return chi_square_table(pool_sparse(reference_counts, current_counts, min_expected))


def chi_square_table(table: npt.ArrayLike) -> tuple[float, float, int]:
    """Pearson's chi-square test of homogeneity of a 2 x K table (no correction, no pooling):
    ``(statistic, p_value, dof)`` as ``scipy.stats.chi2_contingency(table, correction=False)``."""
    table = np.asarray(table, dtype=np.float64)
    if table.size == 0 or table.sum(axis=1).min() <= 0:
        return math.nan, math.nan, 0
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0, 0
    from scipy import special

    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(special.chdtrc(dof, statistic)), dof


def cohen_h(p1: npt.ArrayLike, p2: npt.ArrayLike) -> FloatArray:
    """Cohen's h effect size between proportions: ``2 asin sqrt(p1) - 2 asin sqrt(p2)``
    (0.2 small, 0.5 medium, 0.8 large)."""
    a = np.clip(_floats(p1), 0.0, 1.0)
    b = np.clip(_floats(p2), 0.0, 1.0)
    return np.asarray(2.0 * np.arcsin(np.sqrt(a)) - 2.0 * np.arcsin(np.sqrt(b)), dtype=np.float64)


def max_cohen_h(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """The largest |Cohen's h| over the categories' shares; ``nan`` when a side is empty."""
    r, c = shares(reference_counts), shares(current_counts)
    if r.size == 0 or np.isnan(r).any() or np.isnan(c).any():
        return math.nan
    return float(np.max(np.abs(cohen_h(c, r))))


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z test of ``x1/n1`` against ``x2/n2``
    (the same as ``chi2_contingency`` on the 2 x 2 table without correction); 1.0 when the two
    proportions cannot differ (both 0 or both 1) and ``nan`` when a side is empty."""
    if n1 <= 0 or n2 <= 0:
        return math.nan
    pooled = (x1 + x2) / (n1 + n2)
    if pooled <= 0.0 or pooled >= 1.0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    return math.erfc(abs(z) / math.sqrt(2.0))
