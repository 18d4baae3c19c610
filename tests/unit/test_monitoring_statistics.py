"""Each drift statistic equals scipy's reference computation on the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from loopml.monitoring import statistics as S

RNG = np.random.default_rng(20261128)


def _scipy_ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    method = "exact" if max(a.size, b.size) <= S.KS_EXACT_MAX_N else "asymp"
    result = stats.ks_2samp(a, b, method=method)
    return float(result.statistic), float(result.pvalue)


SAMPLE_PAIRS = {
    "normal shift, asymptotic": (RNG.normal(size=5_000), RNG.normal(0.1, 1.0, size=4_000)),
    "same normal, asymptotic": (RNG.normal(size=3_000), RNG.normal(size=3_000)),
    "big shift, asymptotic": (RNG.normal(size=2_000), RNG.normal(1.0, 1.0, size=1_500)),
    "small samples, exact": (RNG.normal(size=200), RNG.normal(0.3, 1.0, size=150)),
    "tiny samples, exact": (np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0])),
    "ties (integer codes)": (
        RNG.integers(0, 5, size=3_000).astype(float),
        RNG.integers(0, 6, size=2_500).astype(float),
    ),
    "ties, exact": (RNG.integers(0, 3, size=400).astype(float), RNG.integers(0, 3, size=300).astype(float)),
    "heavy tails": (RNG.standard_cauchy(size=4_000), RNG.standard_cauchy(size=4_000)),
    "both constant, equal": (np.full(1_500, 7.0), np.full(1_200, 7.0)),
    "two different constants": (np.full(1_500, 1.0), np.full(1_200, 2.0)),
    "constant vs spread": (np.zeros(2_000), RNG.normal(size=2_000)),
    "one value each": (np.array([0.5]), np.array([1.5])),
}


@pytest.mark.parametrize("case", sorted(SAMPLE_PAIRS))
def test_ks_equals_scipy(case: str) -> None:
    a, b = SAMPLE_PAIRS[case]
    d, p = S.ks(a, b)
    expected_d, expected_p = _scipy_ks(a, b)
    assert d == pytest.approx(expected_d, rel=1e-12, abs=1e-15)
    assert p == pytest.approx(expected_p, rel=1e-9, abs=1e-300)
    assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("case", sorted(SAMPLE_PAIRS))
def test_wasserstein_equals_scipy(case: str) -> None:
    a, b = SAMPLE_PAIRS[case]
    expected = stats.wasserstein_distance(a, b)
    assert S.wasserstein(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    d, p, w = S.ks_and_wasserstein(a, b)
    assert (d, p) == S.ks(a, b)
    assert w == S.wasserstein(a, b)


def test_ks_exact_switches_to_asymptotic_above_the_bound() -> None:
    a, b = RNG.normal(size=S.KS_EXACT_MAX_N + 1), RNG.normal(0.1, 1.0, size=S.KS_EXACT_MAX_N - 100)
    assert S.ks(a, b)[1] == pytest.approx(stats.ks_2samp(a, b, method="asymp").pvalue, rel=1e-9)
    a, b = a[: S.KS_EXACT_MAX_N], b
    assert S.ks(a, b)[1] == pytest.approx(stats.ks_2samp(a, b, method="exact").pvalue, rel=1e-9)


def test_an_empty_side_gives_nan_without_warnings() -> None:
    values, empty = np.arange(10.0), np.array([])
    assert all(math.isnan(x) for x in S.ks_and_wasserstein(values, empty))
    assert all(math.isnan(x) for x in S.ks(empty, values))
    assert math.isnan(S.wasserstein(empty, values))
    assert math.isnan(S.psi([1, 2, 3], [0, 0, 0]))
    assert math.isnan(S.jensenshannon([0, 0], [1, 2]))
    assert math.isnan(S.max_cohen_h([3, 1], [0, 0]))
    statistic, p, dof = S.chi_square([0, 0, 0], [4, 5, 6])
    assert math.isnan(statistic) and math.isnan(p) and dof == 0
    assert math.isnan(S.two_proportions(0, 0, 3, 10))


COUNT_PAIRS = {
    "similar": ([500, 300, 200], [480, 330, 190]),
    "zero bins": ([100, 0, 50, 25], [0, 80, 40, 30]),
    "disjoint": ([10, 0], [0, 10]),
    "identical": ([5, 5, 5], [5, 5, 5]),
    "different totals": ([1, 2, 3, 4], [400, 300, 200, 100]),
    "unseen category": ([300, 200, 0], [280, 190, 60]),
}


@pytest.mark.parametrize("case", sorted(COUNT_PAIRS))
def test_jensenshannon_equals_scipy_base_2(case: str) -> None:
    p, q = COUNT_PAIRS[case]
    expected = distance.jensenshannon(p, q, base=2)
    value = S.jensenshannon(p, q)
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-7)
    assert 0.0 <= value <= 1.0


def test_jensenshannon_bounds() -> None:
    assert S.jensenshannon([10, 0], [0, 10]) == pytest.approx(1.0)
    assert S.jensenshannon([3, 4], [30, 40]) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        ([500, 300, 200], [480, 330, 190]),
        ([300, 200, 0], [280, 190, 60]),  # a category unseen in the reference
        ([1000, 1000], [1100, 900]),  # 2 x 2: no Yates correction
        ([60, 0, 40], [0, 70, 30]),
    ],
)
def test_chi_square_equals_chi2_contingency_without_correction(
    reference: list[int], current: list[int]
) -> None:
    statistic, p, dof = S.chi_square(reference, current)
    expected = stats.chi2_contingency(np.array([reference, current]), correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert dof == expected.dof


def test_chi_square_pools_sparse_categories() -> None:
    reference = [400, 300, 2, 1, 3, 0]
    current = [380, 320, 1, 4, 0, 2]
    table = S.pool_sparse(reference, current)
    assert table.shape == (2, 3)
    assert table[:, 2].tolist() == [6, 7]  # the four rare categories in one column
    assert table.sum() == sum(reference) + sum(current)
    expected = stats.chi2_contingency(table, correction=False)
    assert expected.expected_freq.min() >= S.MIN_EXPECTED
    statistic, p, dof = S.chi_square(reference, current)
    assert (statistic, dof) == (pytest.approx(expected.statistic), expected.dof)
    assert p == pytest.approx(expected.pvalue)


def test_chi_square_merges_a_still_sparse_pool_into_the_smallest_column() -> None:
    table = S.pool_sparse([500, 100, 1], [500, 120, 0])
    assert table.tolist() == [[500, 101], [500, 120]]


def test_chi_square_with_one_category_left_is_no_evidence() -> None:
    assert S.chi_square([100], [80]) == (0.0, 1.0, 0)
    assert S.chi_square([100, 1], [80, 0]) == (0.0, 1.0, 0)


def test_chi_square_many_categories_unseen_on_each_side() -> None:
    reference = RNG.integers(0, 30, size=2_000)
    current = RNG.integers(0, 30, size=2_000)
    reference[:1_000] = 0
    current[-20:] = 0
    statistic, p, dof = S.chi_square(reference, current)
    expected = stats.chi2_contingency(S.pool_sparse(reference, current), correction=False)
    assert dof == expected.dof
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue, abs=1e-300)


def test_psi_matches_a_hand_computation() -> None:
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + 0.0 + (0.3 - 0.2) * math.log(0.3 / 0.2)
    assert S.psi([50, 30, 20], [40, 30, 30]) == pytest.approx(by_hand, rel=1e-12)
    assert S.psi([50, 30, 20], [500, 300, 200]) == pytest.approx(0.0)


def test_psi_floors_empty_bins() -> None:
    floored = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert S.psi([5, 5], [0, 10]) == pytest.approx(floored, rel=1e-12)
    assert S.psi([5, 5], [0, 10], floor=1e-3) < floored


def test_cohen_h() -> None:
    h = S.cohen_h(0.17, 0.085)[0]
    assert h == pytest.approx(2 * math.asin(math.sqrt(0.17)) - 2 * math.asin(math.sqrt(0.085)))
    assert 0.25 < h < 0.27
    assert S.max_cohen_h([915, 85], [830, 170]) == pytest.approx(h)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(30, 1000, 45, 1000), (0, 500, 10, 800), (5, 50, 4, 60)])
def test_two_proportions_equals_chi2_contingency(x1: int, n1: int, x2: int, n2: int) -> None:
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    expected = stats.chi2_contingency(table, correction=False).pvalue
    assert S.two_proportions(x1, n1, x2, n2) == pytest.approx(expected, rel=1e-9)


def test_two_proportions_without_any_difference_possible() -> None:
    assert S.two_proportions(0, 100, 0, 200) == 1.0
    assert S.two_proportions(100, 100, 50, 50) == 1.0


def test_drift_scale_falls_back_for_a_constant_reference() -> None:
    assert S.drift_scale([1.0, 2.0], [5.0], 2.5) == 2.5
    assert S.drift_scale(np.zeros(10), np.ones(10), 0.0) == pytest.approx(0.5)
    assert S.drift_scale(np.zeros(10), np.zeros(5), 0.0) == 0.0
    assert S.wasserstein_norm(0.0, 0.0) == 0.0
    assert S.wasserstein_norm(1.0, 0.0) == math.inf
    assert S.wasserstein_norm(1.0, 0.5) == 2.0
