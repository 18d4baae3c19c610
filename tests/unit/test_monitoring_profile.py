"""Profiles of DataFrames: kinds, statistics, helpers, exact merging, a uniform merged sample,
dict/JSON round trips, and the errors a caller meets."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInput
from loopml.monitoring.profiles import ColumnProfile, Profile, merge_profiles, profile


def mixed_frame(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 1, n)
    income[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "income": income,
            "age": rng.integers(18, 90, n),
            "score": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 5, n)), dtype="Int64"),
            "city": pd.Series(rng.choice(["paris", "lyon", "nice", None], n), dtype=object),
            "plan": pd.Categorical(rng.choice(["free", "pro"], n)),
            "active": rng.random(n) < 0.3,
            "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )


def assert_same_statistics(merged: Profile, whole: Profile) -> None:
    """Everything exact but mean/std (1e-9 relative) and the sample."""
    assert merged.n_rows == whole.n_rows
    assert list(merged.columns) == list(whole.columns)
    for name, want in whole.columns.items():
        got = merged.columns[name]
        assert (got.kind, got.count, got.missing, got.min, got.max) == (
            want.kind,
            want.count,
            want.missing,
            want.min,
            want.max,
        ), name
        assert got.sketch == want.sketch, name
        assert got.categories == want.categories and got.other == want.other, name
        for field in ("mean", "std"):
            a, b = getattr(got, field), getattr(want, field)
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9, abs=1e-12), (name, field)


# --------------------------------------------------------------------------------------------- kinds


def test_each_dtype_profiles_as_its_kind() -> None:
    p = profile(mixed_frame())
    kinds = {name: c.kind for name, c in p.columns.items()}
    assert kinds == {
        "income": "numeric",
        "age": "numeric",
        "score": "numeric",
        "city": "categorical",
        "plan": "categorical",
        "active": "boolean",
        "seen": "datetime",
    }
    assert p.columns["age"].dtype == "int64"
    assert p.columns["plan"].dtype == "category"


def test_numeric_statistics_match_numpy_and_count_inf_as_missing() -> None:
    values = np.array([1.0, 2.0, np.nan, np.inf, -np.inf, 4.0, 10.0])
    column = profile(pd.DataFrame({"x": values})).columns["x"]
    finite = np.array([1.0, 2.0, 4.0, 10.0])
    assert (column.count, column.missing) == (4, 3)
    assert (column.min, column.max) == (1.0, 10.0)
    assert column.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert column.std == pytest.approx(finite.std(), rel=1e-12)  # population std
    assert column.missing_share == pytest.approx(3 / 7)
    assert column.quantiles([0.0, 1.0]).tolist() == [1.0, 10.0]


def test_categorical_counts_are_exact_and_most_frequent_first() -> None:
    df = pd.DataFrame({"c": ["b", "a", "b", None, "c", "b", "a", np.nan]})
    column = profile(df).columns["c"]
    assert column.categories == {"b": 3, "a": 2, "c": 1}
    assert list(column.categories) == ["b", "a", "c"]
    assert (column.count, column.missing, column.other) == (6, 2, 0)
    assert column.frequencies() == {"b": 0.5, "a": pytest.approx(1 / 3), "c": pytest.approx(1 / 6)}


def test_more_categories_than_the_cap_make_a_text_column_with_other() -> None:
    df = pd.DataFrame({"t": ["x"] * 5 + ["y"] * 3 + [f"id{i}" for i in range(10)]})
    column = profile(df, max_categories=4).columns["t"]
    assert column.kind == "text"
    assert len(column.categories or {}) == 4
    assert (column.categories or {})["x"] == 5 and (column.categories or {})["y"] == 3
    assert column.other == 8 and column.count == 18
    shares = column.frequencies()
    assert shares["__other__"] == pytest.approx(8 / 18)
    assert sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([True, False, True, True]),
        pd.Series([True, False, None, True, True], dtype="boolean"),
        pd.Series([True, None, False, True, True], dtype=object),
    ],
    ids=["bool", "nullable boolean", "object with None"],
)
def test_booleans_profile_as_boolean_with_true_false_keys(values: pd.Series) -> None:
    p = profile(pd.DataFrame({"b": values}))
    column = p.columns["b"]
    assert column.kind == "boolean"
    assert (column.categories or {})["True"] == 3
    assert set(p.column_values("b")) <= set(column.categories or {})


@pytest.mark.parametrize("tz", [None, "Europe/Paris", "UTC"])
def test_datetimes_keep_min_and_max_as_epoch_seconds(tz: str | None) -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01 00:00", None, "2024-03-01 12:30"]))
    if tz:
        stamps = stamps.dt.tz_localize(tz)
    p = profile(pd.DataFrame({"t": stamps}))
    column = p.columns["t"]
    offset = {None: 0, "UTC": 0, "Europe/Paris": 3600}[tz]  # Paris is UTC+1 in winter
    assert column.kind == "datetime"
    assert (column.count, column.missing) == (2, 1)
    assert column.min == pd.Timestamp("2024-01-01").timestamp() - offset
    assert column.max == pd.Timestamp("2024-03-01 12:30").timestamp() - offset
    assert sorted(p.column_values("t").tolist()) == [column.min, column.max]
    assert column.sketch is None and column.mean is None


def test_all_missing_and_constant_columns() -> None:
    df = pd.DataFrame({"none": [None] * 4, "nan": [np.nan] * 4, "const": [7.0] * 4, "const_text": ["a"] * 4})
    p = profile(df)
    assert (p.columns["none"].count, p.columns["none"].missing) == (0, 4)
    assert p.columns["none"].frequencies() == {}
    nan = p.columns["nan"]
    assert (nan.kind, nan.count, nan.mean, nan.missing_share) == ("numeric", 0, None, 1.0)
    edges, counts = nan.histogram()
    assert edges.size == 0 and counts.size == 0
    const = p.columns["const"]
    assert (const.min, const.max, const.mean, const.std) == (7.0, 7.0, 7.0, 0.0)
    assert [e.tolist() for e in const.histogram()] == [[7.0, 7.0], [4]]
    assert p.columns["const_text"].categories == {"a": 4}
    assert p.column_values("nan").size == 0 and p.column_values("none").size == 0


def test_histogram_edges_are_quantiles_from_min_to_max_and_counts_add_up() -> None:
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.exponential(1.0, 9_000), np.full(1_000, 0.5)])
    column = profile(pd.DataFrame({"x": values})).columns["x"]
    edges, counts = column.histogram(bins=10)
    assert edges[0] == values.min() and edges[-1] == values.max()
    assert np.all(np.diff(edges) > 0)
    assert counts.sum() == values.size
    assert len(counts) == len(edges) - 1 <= 10
    assert np.all(counts >= 0.05 * values.size)  # roughly equal-frequency bins
    assert column.counts_in([0.0, 1.0, 100.0]).sum() == values.size


def test_column_values_are_the_samples_non_missing_values_spelled_like_categories() -> None:
    df = mixed_frame(500)
    p = profile(df, sample_size=10_000)
    assert p.column_values("income").dtype == np.float64
    assert p.column_values("income").size == df["income"].notna().sum()
    assert sorted(p.column_values("age")) == sorted(df["age"].astype(float))
    cities = p.column_values("city")
    assert cities.dtype == object and set(cities) == set(p.columns["city"].categories or {})
    assert p.column_values("score").size == df["score"].notna().sum()
    mixed = profile(pd.DataFrame({"m": [1, "1", 2.5, None]}))
    assert mixed.columns["m"].categories == {"1": 2, "2.5": 1}
    assert sorted(mixed.column_values("m")) == ["1", "1", "2.5"]


def test_the_sample_keeps_columns_dtypes_and_missing_values() -> None:
    df = mixed_frame(2_000)
    p = profile(df, sample_size=300, seed=4)
    assert len(p.sample) == 300 and p.sample_size == 300
    assert list(p.sample.columns) == list(df.columns)
    assert p.sample.dtypes.equals(df.dtypes)
    assert p.sample["income"].isna().any()
    small = profile(df.head(50), sample_size=300)
    assert len(small.sample) == 50
    assert small.sample.equals(df.head(50))


def test_columns_selects_and_orders() -> None:
    p = profile(mixed_frame(100), columns=["city", "age"])
    assert list(p.columns) == ["city", "age"]
    assert list(p.sample.columns) == ["city", "age"]


def test_the_same_seed_gives_the_same_profile() -> None:
    df = mixed_frame(5_000)
    assert profile(df, sample_size=100, seed=3) == profile(df, sample_size=100, seed=3)
    assert not profile(df, sample_size=100, seed=3).sample.equals(profile(df, sample_size=100, seed=4).sample)


# ------------------------------------------------------------------------------------------ merging


@pytest.mark.parametrize("cuts", [[1], [700], [1, 2, 1500], [100, 200, 2999]])
def test_profiles_of_chunks_merge_into_the_profile_of_the_whole(cuts: list[int]) -> None:
    df = mixed_frame(3_000)
    parts = np.split(np.arange(len(df)), cuts)
    merged = merge_profiles([profile(df.iloc[i]) for i in parts])
    assert_same_statistics(merged, profile(df))
    assert len(merged.sample) == min(10_000, len(df))


def test_profiling_in_chunks_equals_profiling_at_once() -> None:
    df = mixed_frame(3_000)
    chunked = profile(df, chunk_size=256, sample_size=500)
    assert_same_statistics(chunked, profile(df))
    assert len(chunked.sample) == 500


def test_int_and_float_chunks_merge_as_numeric() -> None:
    ints = profile(pd.DataFrame({"x": [1, 2, 3]}))
    floats = profile(pd.DataFrame({"x": [0.5, np.nan]}))
    merged = ints.merge(floats)
    column = merged.columns["x"]
    assert (column.kind, column.dtype, column.count, column.missing) == ("numeric", "float64", 4, 1)
    assert column.mean == pytest.approx(6.5 / 4)
    assert merged.sample["x"].tolist()[:3] in ([1.0, 2.0, 3.0],) or len(merged.sample) == 5


def test_an_all_missing_chunk_takes_the_kind_of_the_other() -> None:
    nulls = profile(pd.DataFrame({"x": [None, None]}))
    numbers = profile(pd.DataFrame({"x": [1.5, 2.5]}))
    column = merge_profiles([nulls, numbers]).columns["x"]
    assert (column.kind, column.count, column.missing, column.mean) == ("numeric", 2, 2, 2.0)
    assert column.sketch == numbers.columns["x"].sketch


def test_categorical_and_text_merge_as_text_and_the_cap_holds() -> None:
    few = profile(pd.DataFrame({"c": ["a", "a", "b"]}), max_categories=3)
    many = profile(pd.DataFrame({"c": ["c", "d", "e", "f", "a"]}), max_categories=3)
    assert (few.columns["c"].kind, many.columns["c"].kind) == ("categorical", "text")
    merged = few.merge(many).columns["c"]
    assert merged.kind == "text"
    assert merged.count == 8 and (merged.categories or {})["a"] >= 2  # "a" went to other in one part
    assert sum((merged.categories or {}).values()) + merged.other == 8
    under_cap = profile(pd.DataFrame({"c": ["a", "b"]})).merge(profile(pd.DataFrame({"c": ["b", "c"]})))
    assert under_cap.columns["c"].categories == {"b": 2, "a": 1, "c": 1}


def test_merging_incompatible_profiles_names_the_difference() -> None:
    a = profile(pd.DataFrame({"x": [1.0], "y": ["a"]}))
    b = profile(pd.DataFrame({"x": [1.0], "z": ["a"]}))
    with pytest.raises(InvalidInput, match=r"only in the first \['y'\], only in the second \['z'\]"):
        a.merge(b)
    c = profile(pd.DataFrame({"x": ["text"], "y": ["a"]}))
    with pytest.raises(InvalidInput, match=r"column 'x'.* numeric .* categorical"):
        a.merge(c)
    with pytest.raises(InvalidInput, match="at least one profile"):
        merge_profiles([])


def test_the_merged_sample_is_uniform_over_the_union() -> None:
    """Rows 0..299 in one profile, 300..999 in the other; over many (fixed) seeds, each side's
    share of the merged sample, and each decile's, is what a uniform sample gives."""
    df = pd.DataFrame({"row": np.arange(1_000)})
    k, seeds = 100, 300
    hits = np.zeros(1_000)
    from_first = []
    for seed in range(seeds):
        a = profile(df.iloc[:300], sample_size=k, seed=seed)
        b = profile(df.iloc[300:], sample_size=k, seed=seed + 10_000)
        merged = a.merge(b, seed=seed)
        rows = merged.sample["row"].to_numpy()
        assert len(rows) == k and len(set(rows)) == k
        hits[rows] += 1
        from_first.append(np.count_nonzero(rows < 300))
    # hypergeometric(100 draws, 300 of 1000): mean 30, sd 4.35; the mean of 300 draws: sd 0.25
    assert abs(np.mean(from_first) - 30) < 1.5
    assert np.std(from_first) == pytest.approx(4.35, rel=0.25)
    deciles = hits.reshape(10, 100).sum(axis=1) / (seeds * k)  # each 0.1, sd ~0.0017
    assert np.all(np.abs(deciles - 0.1) < 0.012), deciles


def test_merge_samples_of_different_bounds_uses_the_smaller() -> None:
    df = pd.DataFrame({"x": np.arange(100.0)})
    merged = profile(df.iloc[:50], sample_size=30).merge(profile(df.iloc[50:], sample_size=10))
    assert merged.sample_size == 10 and len(merged.sample) == 10


# --------------------------------------------------------------------------------------- round trips


def test_dict_and_json_round_trips_are_exact() -> None:
    df = mixed_frame(2_000)
    df["seen_tz"] = df["seen"].dt.tz_localize("America/New_York")
    df["text"] = [f"id{i % 1500}" for i in range(len(df))]
    df["third"] = np.arange(len(df)) / 3.0
    p = profile(df, sample_size=200, max_categories=50)
    text = p.to_json()
    json.loads(text)  # standard JSON
    assert "NaN" not in text.replace('"NaN"', "")
    restored = Profile.from_json(text)
    assert restored == p
    assert restored.columns["third"].mean == p.columns["third"].mean  # floats bit-exact
    assert Profile.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert restored.sample.dtypes.equals(p.sample.dtypes)


def test_non_finite_statistics_survive_json() -> None:
    p = profile(pd.DataFrame({"big": [1e308, 1.7e308]}))
    assert p.columns["big"].mean == math.inf
    text = p.to_json()
    assert '"Infinity"' in text
    restored = Profile.from_json(text).columns["big"]
    assert restored.mean == math.inf and math.isnan(restored.std or 0.0) == math.isnan(
        p.columns["big"].std or 0.0
    )


def test_a_column_profile_compares_by_value() -> None:
    a = profile(pd.DataFrame({"x": [1.0, 2.0]})).columns["x"]
    b = profile(pd.DataFrame({"x": [1.0, 2.0]})).columns["x"]
    assert a == b and isinstance(a, ColumnProfile)
    assert a != profile(pd.DataFrame({"x": [1.0, 3.0]})).columns["x"]


# ------------------------------------------------------------------------------------------- errors


def test_bad_arguments_name_the_offending_value() -> None:
    df = pd.DataFrame({"a": [1.0], "b": ["x"]})
    with pytest.raises(InvalidInput, match=r"unknown column 'c' in columns=; the data has \['a', 'b'\]"):
        profile(df, columns=["a", "c"])
    with pytest.raises(InvalidInput, match="sample_size must be a whole number of at least 1, got 0"):
        profile(df, sample_size=0)
    with pytest.raises(InvalidInput, match=r"max_categories must be .* got -1"):
        profile(df, max_categories=-1)
    with pytest.raises(InvalidInput, match="cannot profile a dict"):
        profile({"a": [1]})
    with pytest.raises(InvalidInput, match=r"duplicate column names \['a'\]"):
        profile(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    p = profile(df)
    with pytest.raises(InvalidInput, match="no column 'zz'"):
        p.column_values("zz")
    with pytest.raises(InvalidInput, match="quantiles needs a numeric column; 'b' is categorical"):
        p.columns["b"].quantiles([0.5])
    with pytest.raises(InvalidInput, match="frequencies need a categorical column; 'a' is numeric"):
        p.columns["a"].frequencies()
    with pytest.raises(InvalidInput, match="not a loopml profile"):
        Profile.from_json('{"format": "something else"}')
