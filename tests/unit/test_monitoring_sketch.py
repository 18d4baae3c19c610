"""QuantileSketch: relative accuracy against numpy, exact merging, storage, and the edge cases
(negatives, zeros, constants, huge ranges) a reference profile meets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidInput
from loopml.monitoring.sketch import QuantileSketch

ALPHA = 0.005
QS = np.linspace(0.0, 1.0, 201)


def sketch_of(*parts: np.ndarray) -> QuantileSketch:
    sketch = QuantileSketch()
    for part in parts:
        sketch.add(part)
    return sketch


def assert_within_alpha(values: np.ndarray, sketch: QuantileSketch) -> None:
    """Each estimate is within a relative alpha of the order statistic of rank floor(q(n-1))."""
    finite = values[np.isfinite(values)]
    exact = np.quantile(finite, QS, method="lower")
    estimate = sketch.quantiles(QS)
    tolerance = ALPHA * np.abs(exact) * (1 + 1e-9) + 1e-12  # |x| < 1e-12 counts as zero
    assert np.all(np.abs(estimate - exact) <= tolerance), np.max(np.abs(estimate - exact) / np.abs(exact))


DISTRIBUTIONS = {
    "normal": lambda rng, n: rng.normal(3.0, 2.0, n),
    "lognormal heavy tail": lambda rng, n: rng.lognormal(0.0, 4.0, n),
    "pareto": lambda rng, n: rng.pareto(1.1, n) + 1.0,
    "cauchy": lambda rng, n: rng.standard_cauchy(n),
    "negative exponential": lambda rng, n: -rng.exponential(5.0, n),
    "zeros and ones": lambda rng, n: rng.integers(0, 2, n).astype(float),
    "integers": lambda rng, n: rng.integers(-1000, 1000, n).astype(float),
    "huge range": lambda rng, n: 10.0 ** rng.uniform(-9, 12, n),
    "mixed signs huge range": lambda rng, n: rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-9, 12, n),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_quantiles_are_within_alpha_of_numpy(name: str) -> None:
    rng = np.random.default_rng(7)
    values = DISTRIBUTIONS[name](rng, 50_000)
    sketch = sketch_of(values)
    assert sketch.count == values.size
    assert (sketch.min, sketch.max) == (values.min(), values.max())
    assert_within_alpha(values, sketch)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=300,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_any_values_any_split_merge_to_the_sketch_of_the_whole(values: list[float], parts: int) -> None:
    data = np.array(values)
    whole = sketch_of(data)
    pieces = [sketch_of(part) for part in np.array_split(data, parts)]
    merged = pieces[0]
    for piece in pieces[1:]:
        merged = merged.merge(piece)
    assert merged == whole
    assert merged.to_dict() == whole.to_dict()
    assert_within_alpha(data, merged)


def test_merge_is_exact_and_does_not_change_its_inputs() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 10_000), rng.lognormal(5, 2, 7_000)
    left, right = sketch_of(a), sketch_of(b)
    before = left.to_dict()
    merged = left.merge(right)
    assert left.to_dict() == before
    assert merged == sketch_of(np.concatenate([a, b]))
    assert merged == right.merge(left)
    assert merged.count == 17_000


def test_missing_and_infinite_values_are_not_counted() -> None:
    sketch = sketch_of(np.array([1.0, np.nan, np.inf, -np.inf, 2.0]))
    assert sketch.count == 2
    assert (sketch.min, sketch.max) == (1.0, 2.0)


def test_a_constant_column_has_every_quantile_equal_to_it() -> None:
    sketch = sketch_of(np.full(1000, 42.5))
    assert np.all(sketch.quantiles(QS) == 42.5)
    assert sketch.counts_in([0.0, 42.5, 100.0]).tolist() == [0, 1000]


def test_zeros_are_counted_apart_and_tiny_values_count_as_zero() -> None:
    sketch = sketch_of(np.array([0.0, -0.0, 1e-13, -1e-14, 5.0]))
    assert sketch.zero == 4
    assert sketch.quantiles([0.0, 0.5, 0.7]).tolist() == [-1e-14, 0.0, 0.0]
    assert sketch.quantiles([1.0])[0] == pytest.approx(5.0, rel=ALPHA)


def test_extreme_magnitudes_do_not_overflow() -> None:
    values = np.array([1e-300, 1e-12, 1.0, 1e300, 1.7e308, -1.7e308])
    sketch = sketch_of(values)
    estimate = sketch.quantiles([0.0, 1.0])
    assert estimate.tolist() == [-1.7e308, 1.7e308]  # clamped to min and max
    assert np.all(np.isfinite(sketch.quantiles(QS)))


def test_an_empty_sketch_answers_nan_and_zero_counts() -> None:
    sketch = QuantileSketch()
    sketch.add(np.array([np.nan]))
    assert sketch.count == 0
    assert np.isnan(sketch.quantiles([0.5])).all()
    assert sketch.counts_in([0.0, 1.0]).tolist() == [0]
    assert QuantileSketch.from_dict(json.loads(json.dumps(sketch.to_dict()))) == sketch


def test_counts_in_bins_put_values_outside_the_edges_in_the_end_bins() -> None:
    values = np.array([-5.0, 1.0, 1.5, 2.0, 3.0, 10.0, 99.0])
    counts = sketch_of(values).counts_in([1.0, 2.0, 3.0])
    assert counts.tolist() == [3, 4]  # [-5, 1, 1.5] | [2, 3, 10, 99]
    assert counts.sum() == values.size


def test_counts_in_agree_with_numpy_histogram_away_from_the_edges() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, 100_000)
    edges = np.array([-10.0, -1.0, 0.0, 1.0, 10.0])
    exact, _ = np.histogram(values, edges)
    estimate = sketch_of(values).counts_in(edges)
    assert estimate.sum() == values.size
    # only values within alpha of an edge can land in the neighbouring bin
    near = [np.count_nonzero(np.abs(values - e) <= ALPHA * abs(e) + 1e-12) for e in edges]
    assert np.all(np.abs(estimate - exact) <= max(near) + 1)


def test_to_dict_round_trips_through_json_and_is_compact() -> None:
    rng = np.random.default_rng(5)
    sketch = sketch_of(rng.normal(0, 1, 10_000), np.zeros(3))
    data = json.loads(json.dumps(sketch.to_dict()))
    assert set(data) == {"alpha", "count", "min", "max", "zero", "positive", "negative"}
    assert set(data["positive"]) == {"offset", "counts"}
    restored = QuantileSketch.from_dict(data)
    assert restored == sketch
    assert restored.quantiles(QS).tolist() == sketch.quantiles(QS).tolist()
    assert len(data["positive"]["counts"]) < 2000  # trimmed, not the whole key range


def test_bad_arguments_are_refused_with_the_value() -> None:
    with pytest.raises(InvalidInput, match=r"quantiles must lie in \[0, 1\], got \[1.5\]"):
        QuantileSketch().quantiles([1.5])
    with pytest.raises(InvalidInput, match="alpha must be between 0 and 1, got 2"):
        QuantileSketch(alpha=2)
    with pytest.raises(InvalidInput, match="bin edges must be at least two ascending numbers"):
        QuantileSketch().counts_in([3.0, 1.0])
    with pytest.raises(InvalidInput, match=r"different accuracy: 0\.005 and 0\.01"):
        QuantileSketch().merge(QuantileSketch(alpha=0.01))
    with pytest.raises(InvalidInput, match="not a quantile sketch"):
        QuantileSketch.from_dict({"alpha": 0.005})
