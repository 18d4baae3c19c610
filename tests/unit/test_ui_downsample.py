"""Downsampling a metric history for a chart: the budget, the extremes, the order, the edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.server.ui.downsample import DEFAULT_POINTS, MIN_POINTS, downsample, select


def test_a_short_history_is_kept_whole() -> None:
    values = [3.0, 1.0, 2.0]
    assert select(values, 10).tolist() == [0, 1, 2]
    points = downsample([0, 1, 2], [10, 11, 12], values, 10)
    assert points.values.tolist() == values and points.steps.tolist() == [0, 1, 2]
    assert points.timestamps.tolist() == [10, 11, 12] and points.total == 3 and points.non_finite == 0


def test_a_million_points_fit_the_budget_and_keep_spikes_first_and_last() -> None:
    n = 1_000_000
    values = np.sin(np.arange(n) / 1000.0)
    values[123_457] = 50.0
    values[876_543] = -50.0
    points = downsample(np.arange(n), np.arange(n) + 1_700_000_000_000, values)
    assert len(points.values) <= DEFAULT_POINTS
    assert points.values.max() == 50.0 and points.values.min() == -50.0
    assert points.steps[0] == 0 and points.steps[-1] == n - 1
    assert 123_457 in points.steps and 876_543 in points.steps
    assert np.all(np.diff(points.steps) > 0)  # in order, no repeats
    assert np.array_equal(points.timestamps, points.steps + 1_700_000_000_000)  # columns stay aligned
    assert points.total == n and points.non_finite == 0


def test_the_shape_survives_every_bucket_keeps_its_min_and_max() -> None:
    values = np.tile([0.0, 10.0, -10.0, 0.0], 500)  # a zigzag of 2,000 points
    kept = select(values, 100)
    assert set(values[kept].tolist()) == {0.0, 10.0, -10.0}
    assert len(kept) <= 100


def test_nan_and_infinities_are_left_out_and_counted() -> None:
    values = [math.nan, 1.0, math.inf, 2.0, -math.inf, 3.0, math.nan]
    points = downsample(range(7), range(7), values, 4)
    assert points.steps.tolist() == [1, 3, 5] and points.values.tolist() == [1.0, 2.0, 3.0]
    assert points.non_finite == 4 and points.total == 7
    many = np.full(10_000, math.nan)
    many[[10, 5000, 9000]] = [1.0, 7.0, 2.0]
    assert select(many, 4).tolist() == [10, 5000, 9000]


def test_edge_cases_empty_single_and_all_nan() -> None:
    assert select([], 4).tolist() == []
    assert select([5.0], 4).tolist() == [0]
    assert select([math.nan] * 5, 4).tolist() == []
    empty = downsample([], [], [], 4)
    assert empty.to_dict("loss") == {
        "key": "loss",
        "steps": [],
        "timestamps": [],
        "values": [],
        "total_points": 0,
        "non_finite_points": 0,
    }


def test_a_budget_below_the_minimum_or_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_POINTS}"):
        select([1.0] * 10, MIN_POINTS - 1)
    with pytest.raises(ValueError, match="differ in length"):
        downsample([1, 2], [1], [1.0, 2.0])


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=400),
    st.integers(min_value=MIN_POINTS, max_value=120),
)
def test_any_history_any_budget(values: list[float], budget: int) -> None:
    kept = select(values, budget)
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    assert len(kept) <= budget
    assert kept.tolist() == sorted(set(kept.tolist()))
    assert set(kept.tolist()) <= set(finite)
    if finite:
        chosen = [values[i] for i in kept]
        assert kept[0] == finite[0] and kept[-1] == finite[-1]
        assert max(chosen) == max(values[i] for i in finite)
        assert min(chosen) == min(values[i] for i in finite)
    if len(finite) <= budget:
        assert kept.tolist() == finite
