"""Reference profiles: what a dataset looked like, in a form that merges and compares.

:func:`profile` reads a DataFrame, or files (Parquet, CSV, JSON Lines: paths, globs,
directories, fsspec URLs; see :mod:`.profile_io`) in chunks, and returns a :class:`Profile`:
per column, exact counts, min/max/mean/std and a :class:`~.sketch.QuantileSketch` (numeric),
exact category counts (categorical, boolean, text), plus a uniform random sample of rows.
Profiles of parts merge into the profile of the whole (:func:`merge_profiles`): counts,
extremes, sketches and categories add exactly, mean and std combine by Chan's parallel formula,
and the samples merge into a uniform sample of the union (:mod:`.sample`).

Profiling is vectorised per column (numpy reductions, one ``bincount`` per sketch, pandas'
hash-table ``value_counts``): no Python loop over rows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput
from .sample import check_sample_size, merge_samples, sample_indices
from .sketch import QuantileSketch

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KINDS", "ColumnProfile", "Profile", "ProfileOptions", "merge_profiles", "profile"]

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
OTHER = "__other__"


@dataclass(frozen=True)
class ProfileOptions:
    """How to profile: the sample bound, the category cap, histogram bins, seed, chunk rows."""

    sample_size: int = 10_000
    max_categories: int = 1_000
    bins: int = 10
    seed: int = 0
    chunk_size: int = 1_000_000

    def __post_init__(self) -> None:
        check_sample_size(self.sample_size)
        for name in ("max_categories", "bins", "chunk_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InvalidInput(
                    f"{name} must be a whole number of at least 1, got {value!r}", **{name: value}
                )


@dataclass(frozen=True, repr=False)
class ColumnProfile:
    """The statistics of one column. See the module docstring and the field comments."""

    name: str
    kind: str  # numeric | categorical | boolean | datetime | text
    dtype: str  # the source dtype, as text
    count: int  # non-missing values
    missing: int  # NaN / None / NaT (and +-inf for numeric columns)
    min: float | None = None  # numeric; datetime: seconds since the epoch
    max: float | None = None
    mean: float | None = None  # numeric only
    std: float | None = None  # population (ddof=0)
    sketch: QuantileSketch | None = None  # numeric only
    categories: dict[str, int] | None = None  # categorical / boolean / text, most frequent first
    other: int = 0  # values of categories beyond max_categories, counted together

    def __repr__(self) -> str:
        shown = f"name={self.name!r}, kind={self.kind!r}, dtype={self.dtype!r}, count={self.count}"
        shown += f", missing={self.missing}"
        if self.kind in ("numeric", "datetime"):
            shown += f", min={self.min}, max={self.max}"
        if self.kind == "numeric":
            shown += f", mean={self.mean}, std={self.std}"
        if self.categories is not None:
            top = dict(list(self.categories.items())[:5])
            more = ", ..." if len(self.categories) > 5 else ""
            shown += f", categories={str(top)[:-1]}{more}}} ({len(self.categories)}), other={self.other}"
        return f"ColumnProfile({shown})"

    @property
    def missing_share(self) -> float:
        """The share of the column's values that are missing (0.0 for an empty column)."""
        total = self.count + self.missing
        return self.missing / total if total else 0.0

    def _require_sketch(self, what: str) -> QuantileSketch:
        if self.sketch is None:
            raise InvalidInput(
                f"{what} needs a numeric column; {self.name!r} is {self.kind}", column=self.name
            )
        return self.sketch

    def quantiles(self, qs: Iterable[float] | float) -> np.ndarray:
        """The column's quantiles ``qs`` from its sketch (relative accuracy 0.5 %)."""
        return self._require_sketch("quantiles").quantiles(qs)

    def histogram(self, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(edges, counts): quantile-based edges from the sketch — unique, ascending, first the
        min and last the max — and the count per bin. A constant column has the one bin
        ``[c, c]``; an empty one no bins (two empty arrays)."""
        sketch = self._require_sketch("histogram")
        if sketch.count == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        inner = np.unique(sketch.quantiles(np.linspace(0.0, 1.0, int(bins) + 1)[1:-1]))
        edges = inner[(inner > sketch.min) & (inner < sketch.max)]
        edges = np.concatenate([[sketch.min], edges, [sketch.max]])
        return edges, sketch.counts_in(edges)

    def counts_in(self, edges: Any) -> np.ndarray:
        """Counts of the column's values in bins ``[e0, e1), ..., [e_{k-1}, e_k]``; values below
        ``e0`` count in the first bin, above ``e_k`` in the last."""
        return self._require_sketch("counts_in").counts_in(edges)

    def frequencies(self) -> dict[str, float]:
        """Each category's share of the non-missing values, with ``"__other__"`` when other > 0."""
        if self.categories is None:
            raise InvalidInput(
                f"frequencies need a categorical column; {self.name!r} is {self.kind}", column=self.name
            )
        if self.count == 0:
            return {}
        shares = {key: n / self.count for key, n in self.categories.items()}
        if self.other:
            shares[OTHER] = self.other / self.count
        return shares


@dataclass(frozen=True, eq=False)
class Profile:
    """A dataset's profile: rows seen, one :class:`ColumnProfile` per column, a row sample."""

    n_rows: int
    columns: dict[str, ColumnProfile]
    sample: pd.DataFrame
    sample_size: int = 10_000
    max_categories: int = 1_000
    bins: int = 10
    seed: int = 0

    def __repr__(self) -> str:
        return f"Profile(n_rows={self.n_rows}, columns={list(self.columns)}, sample={len(self.sample)} rows)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        same_sample = self.sample.dtypes.equals(other.sample.dtypes) and self.sample.equals(other.sample)
        return same_sample and _settings(self) == _settings(other) and self.columns == other.columns

    __hash__ = None  # type: ignore[assignment]

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``; InvalidInput naming it when there is none."""
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput(
                f"the profile has no column {name!r}; its columns are {list(self.columns)}", column=name
            ) from None

    def column_values(self, name: str) -> np.ndarray:
        """The sample's non-missing values of ``name``: float64 for numeric (+-inf dropped) and
        datetime (seconds since the epoch) columns; str objects, spelled like the keys of
        ``categories``, for the others."""
        kind = self.column(name).kind
        values = self.sample[name]
        if kind == "numeric":
            x = _as_float(values)
            return np.asarray(x[np.isfinite(x)])
        if kind == "datetime":
            return _epoch_seconds(values)
        return np.array([str(v) for v in values[values.notna()]], dtype=object)

    def merge(self, other: Profile, *, seed: int | None = None) -> Profile:
        """The profile of both datasets (same columns required). ``seed`` draws the merged
        sample; by default it is derived from the two profiles, so a merge is reproducible."""
        rng = np.random.default_rng(seed if seed is not None else [self.seed, self.n_rows, other.n_rows])
        return merge_two(self, other, rng)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything, the sample included (see :mod:`.profile_io`)."""
        from .profile_io import profile_to_dict

        return profile_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        from .profile_io import profile_from_dict

        return profile_from_dict(data)

    def to_json(self, path: str | os.PathLike[str] | None = None, **storage_options: Any) -> str:
        """The profile as JSON text, also written to ``path`` (a local path or URL) when given."""
        from .profile_io import profile_to_json

        return profile_to_json(self, path, storage_options)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str], **storage_options: Any) -> Profile:
        """The profile in JSON text, or in the file at a path or URL."""
        from .profile_io import profile_from_json

        return profile_from_json(text_or_path, storage_options)

    def to_parquet(self, path: str | os.PathLike[str], **storage_options: Any) -> None:
        """One Parquet file: the sample rows, and the statistics under b"loopml.profile"."""
        from .profile_io import profile_to_parquet

        profile_to_parquet(self, path, storage_options)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str], **storage_options: Any) -> Profile:
        from .profile_io import profile_from_parquet

        return profile_from_parquet(path, storage_options)


def _settings(p: Profile) -> tuple[int, int, int, int, int, list[str]]:
    return (p.n_rows, p.sample_size, p.max_categories, p.bins, p.seed, list(p.columns))


# ---------------------------------------------------------------------------------------- profiling


def profile(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    sample_size: int = 10_000,
    max_categories: int = 1_000,
    bins: int = 10,
    seed: int = 0,
    chunk_size: int = 1_000_000,
    storage_options: Mapping[str, Any] | None = None,
) -> Profile:
    """The profile of ``data``: a pandas DataFrame, or a path / glob / directory / fsspec URL (or
    a list of them) of Parquet, CSV or JSON Lines files, read in chunks of ``chunk_size`` rows.

    ``columns`` restricts (and orders) the columns profiled; ``storage_options`` go to fsspec.
    """
    import pandas as pd

    options = ProfileOptions(sample_size, max_categories, bins, seed, chunk_size)
    if isinstance(data, pd.DataFrame):
        return _profile_dataframe(data, columns, options)
    if isinstance(data, str | os.PathLike) or (
        isinstance(data, list | tuple) and data and all(isinstance(d, str | os.PathLike) for d in data)
    ):
        from .profile_io import profile_files

        return profile_files(data, columns, options, dict(storage_options or {}))
    raise InvalidInput(
        f"cannot profile a {type(data).__name__}: pass a pandas DataFrame or a path, glob or URL of files",
        data_type=type(data).__name__,
    )


def _profile_dataframe(
    frame: pd.DataFrame, columns: Sequence[str] | None, options: ProfileOptions
) -> Profile:
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"the data has duplicate column names {duplicated}", columns=duplicated)
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    wanted = check_columns(columns, names)
    frame = frame[wanted] if wanted != names else frame
    rng = np.random.default_rng(options.seed)
    result: Profile | None = None
    for start in range(0, max(len(frame), 1), options.chunk_size):
        part = frame.iloc[start : start + options.chunk_size]
        sample = part.iloc[sample_indices(len(part), options.sample_size, rng)]
        piece = build_profile(len(part), {n: part[n] for n in wanted}, sample, options)
        result = piece if result is None else merge_two(result, piece, rng)
    assert result is not None
    return result


def check_columns(columns: Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """The columns to profile: ``columns`` (each must exist) or all of ``available``."""
    if columns is None:
        return list(available)
    if isinstance(columns, str):
        columns = [columns]
    unknown = [c for c in columns if c not in set(available)]
    if unknown:
        raise InvalidInput(
            f"unknown column {unknown[0]!r} in columns=; the data has {list(available)}", columns=unknown
        )
    return list(dict.fromkeys(columns))


def build_profile(
    n_rows: int, series: Mapping[str, pd.Series], sample: pd.DataFrame, options: ProfileOptions
) -> Profile:
    """The profile of one chunk of ``n_rows`` rows: each of ``series`` profiled; ``sample`` is a
    uniform sample of ``min(sample_size, n_rows)`` of the rows."""
    columns = {name: profile_series(name, s, options.max_categories) for name, s in series.items()}
    sample = sample[list(columns)].reset_index(drop=True)
    return Profile(
        n_rows, columns, sample, options.sample_size, options.max_categories, options.bins, options.seed
    )


def kind_of(dtype: Any) -> str:
    """The kind a dtype profiles as ("categorical" for any text-like dtype)."""
    from pandas.api import types

    if types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, types.CategoricalDtype):
        return "categorical"
    if types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        return "numeric"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "categorical"


def profile_series(name: str, series: pd.Series, max_categories: int) -> ColumnProfile:
    """The :class:`ColumnProfile` of one column's values."""
    kind = kind_of(series.dtype)
    dtype = str(series.dtype)
    if kind == "categorical" and series.dtype == object and _holds_booleans(series):
        kind = "boolean"
    if kind == "numeric":
        return _numeric(name, dtype, _as_float(series))
    if kind == "datetime":
        seconds = _epoch_seconds(series)
        low, high = (float(seconds.min()), float(seconds.max())) if seconds.size else (None, None)
        return ColumnProfile(name, kind, dtype, int(seconds.size), len(series) - int(seconds.size), low, high)
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts.to_numpy() > 0]  # a categorical dtype lists unseen categories too
    keys = counts.index
    if keys.inferred_type != "string":
        keys = keys.map(str)
    values = counts.to_numpy(np.int64)
    if not keys.is_unique:  # two values spelled alike (1 and "1")
        grouped = pd_series(values, keys).groupby(level=0, sort=False).sum()
        keys, values = grouped.index, grouped.to_numpy(np.int64)
    count = int(values.sum())
    kept, other = top_categories(keys, values, max_categories)
    if kind == "categorical" and len(keys) > max_categories:
        kind = "text"
    return ColumnProfile(name, kind, dtype, count, len(series) - count, categories=kept, other=other)


def _holds_booleans(series: pd.Series) -> bool:
    """True for an object column of only True/False and missing values (pyarrow's booleans
    with nulls, JSON true/false), which profiles as boolean, not categorical."""
    from pandas.api.types import infer_dtype

    head = series.iloc[:64].dropna()
    if len(head) and not all(isinstance(v, bool | np.bool_) for v in head):
        return False  # the common case, decided without a pass over the column
    return bool(infer_dtype(series, skipna=True) == "boolean")


def pd_series(values: np.ndarray, index: Any) -> pd.Series:
    import pandas as pd

    return pd.Series(values, index=index)


def top_categories(keys: Any, counts: np.ndarray, limit: int) -> tuple[dict[str, int], int]:
    """The ``limit`` most frequent keys (ties: first seen first) and the count of the rest."""
    order = np.argsort(-counts, kind="stable")
    kept = order[:limit]
    rest = int(counts[order[limit:]].sum()) if len(order) > limit else 0
    return {str(keys[i]): int(counts[i]) for i in kept}, rest


def _numeric(name: str, dtype: str, x: np.ndarray) -> ColumnProfile:
    finite = np.isfinite(x)
    n = int(np.count_nonzero(finite))
    values = x if n == x.size else x[finite]
    sketch = QuantileSketch()
    if n == 0:
        return ColumnProfile(name, "numeric", dtype, 0, int(x.size), sketch=sketch)
    sketch.add_finite(values)
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308: mean inf, std NaN
        mean = float(values.mean())
        deviations = values - mean
        std = math.sqrt(float(np.dot(deviations, deviations)) / n)
    return ColumnProfile(
        name, "numeric", dtype, n, int(x.size) - n, sketch.min, sketch.max, mean, std, sketch
    )


def _as_float(series: pd.Series) -> np.ndarray:
    """A numeric column as float64 (missing -> NaN), without a copy when it already is."""
    if series.dtype == np.float64:
        return np.asarray(series.to_numpy())
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))


def _epoch_seconds(series: pd.Series) -> np.ndarray:
    """The non-missing values of a datetime column as float seconds since the epoch (UTC)."""
    import pandas as pd

    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    values = series.to_numpy()
    if values.dtype.kind != "M":
        values = pd.to_datetime(series.dropna(), utc=True).dt.tz_localize(None).to_numpy()
    values = values[~np.isnat(values)]
    return np.asarray((values - np.datetime64(0, "s")) / np.timedelta64(1, "s"), dtype=np.float64)


# ------------------------------------------------------------------------------------------ merging


def merge_profiles(profiles: Iterable[Profile], *, seed: int | None = None) -> Profile:
    """The profile of all the datasets profiled (same columns required), merged left to right."""
    items = list(profiles)
    if not items:
        raise InvalidInput("merge_profiles needs at least one profile")
    result = items[0]
    for index, item in enumerate(items[1:], start=1):
        result = result.merge(item, seed=None if seed is None else seed + index)
    return result


def merge_two(a: Profile, b: Profile, rng: np.random.Generator) -> Profile:
    """The profile of both: columns merged exactly, samples into a uniform sample of the union."""
    if set(a.columns) != set(b.columns):
        only_a = [c for c in a.columns if c not in b.columns]
        only_b = [c for c in b.columns if c not in a.columns]
        raise InvalidInput(
            f"cannot merge profiles of different columns: only in the first {only_a}, only in the second"
            f" {only_b}",
            only_first=only_a,
            only_second=only_b,
        )
    cap = min(a.max_categories, b.max_categories)
    columns = {name: merge_columns(a.columns[name], b.columns[name], cap) for name in a.columns}
    k = min(a.sample_size, b.sample_size)
    first = _subsample(a.sample, min(k, a.n_rows), rng)
    second = _subsample(b.sample[list(a.columns)], min(k, b.n_rows), rng)
    sample = merge_samples(first, a.n_rows, second, b.n_rows, k, rng)
    return Profile(a.n_rows + b.n_rows, columns, sample, k, cap, a.bins, a.seed)


def _subsample(sample: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(sample) <= rows:
        return sample
    return sample.iloc[sample_indices(len(sample), rows, rng)].reset_index(drop=True)


def merge_columns(a: ColumnProfile, b: ColumnProfile, max_categories: int) -> ColumnProfile:
    """One column's profile of both parts (InvalidInput for kinds that do not mix)."""
    kind = _merged_kind(a, b)
    dtype = _merged_dtype(a, b)
    count, missing = a.count + b.count, a.missing + b.missing
    if kind == "numeric":
        mean, std = _chan(a, b)
        sketches = [s for s in (a.sketch, b.sketch) if s is not None]
        sketch = sketches[0].merge(sketches[1]) if len(sketches) == 2 else (sketches or [QuantileSketch()])[0]
        low, high = _extreme(min, a.min, b.min), _extreme(max, a.max, b.max)
        return ColumnProfile(a.name, kind, dtype, count, missing, low, high, mean, std, sketch.copy())
    if kind == "datetime":
        low, high = _extreme(min, a.min, b.min), _extreme(max, a.max, b.max)
        return ColumnProfile(a.name, kind, dtype, count, missing, low, high)
    totals = dict(a.categories or {})
    for key, n in (b.categories or {}).items():
        totals[key] = totals.get(key, 0) + n
    keys = list(totals)
    kept, dropped = top_categories(keys, np.fromiter(totals.values(), np.int64, len(keys)), max_categories)
    if kind == "categorical" and len(keys) > max_categories:
        kind = "text"
    return ColumnProfile(
        a.name, kind, dtype, count, missing, categories=kept, other=a.other + b.other + dropped
    )


def _merged_kind(a: ColumnProfile, b: ColumnProfile) -> str:
    if a.kind == b.kind:
        return a.kind
    if a.count == 0:  # an all-missing part (e.g. a chunk of nulls) takes the other's kind
        return b.kind
    if b.count == 0:
        return a.kind
    if {a.kind, b.kind} == {"categorical", "text"}:
        return "text"
    raise InvalidInput(
        f"cannot merge column {a.name!r}: it is {a.kind} ({a.dtype}) in one profile and {b.kind} ({b.dtype})"
        " in the other",
        column=a.name,
        kinds=[a.kind, b.kind],
    )


def _merged_dtype(a: ColumnProfile, b: ColumnProfile) -> str:
    if a.dtype == b.dtype or (b.count == 0 and a.count):
        return a.dtype
    if a.count == 0:
        return b.dtype
    try:
        return np.result_type(np.dtype(a.dtype), np.dtype(b.dtype)).name
    except TypeError:
        return "object"


def _extreme(pick: Any, x: float | None, y: float | None) -> float | None:
    present = [v for v in (x, y) if v is not None]
    return float(pick(present)) if present else None


def _chan(a: ColumnProfile, b: ColumnProfile) -> tuple[float | None, float | None]:
    """Mean and population std of both parts (Chan, Golub & LeVeque's parallel update)."""
    if b.count == 0 or b.mean is None or b.std is None:
        return a.mean, a.std
    if a.count == 0 or a.mean is None or a.std is None:
        return b.mean, b.std
    n = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / n)
    m2 = a.std**2 * a.count + b.std**2 * b.count + delta**2 * (a.count * b.count / n)
    return mean, math.sqrt(max(m2, 0.0) / n)
