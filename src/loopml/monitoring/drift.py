"""``detect_drift(reference, current)``: compare two datasets column by column.

Each side is a pandas DataFrame or a path / glob / URL of files (both profiled with
:func:`~loopml.monitoring.profile`), or a :class:`~loopml.monitoring.Profile` used as it is.
Each column is decided by the default rule of :mod:`.stattests` — a change must be both real
(p < 0.05) and large enough to matter (effect >= 0.1) — unless ``tests=`` forces a test, whose
statistic then decides alone against its own threshold. Besides the verdict every column reports
all its applicable statistics (``scores``), its missing-value shares (``changed`` when a
two-proportion test gives p < 0.05 and |Cohen's h| >= 0.1), new categories and both
distributions for plotting: for numeric columns the shares of both sides in the reference's
quantile bins (the bins PSI and Jensen-Shannon use; equal-count bins keep heavy tails readable),
for categorical ones the 20 categories with the largest reference + current share plus
``"__other__"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput
from . import statistics as stats
from .report import ColumnDrift, DriftReport, MissingChange
from .stattests import (
    ALPHA,
    CATEGORICAL_KINDS,
    MIN_EFFECT,
    OTHER,
    RULE,
    ColumnPair,
    DriftTest,
    Verdict,
    default_verdict,
    drift_test,
    forced_verdict,
    scores,
)

if TYPE_CHECKING:
    from .profiles import ColumnProfile, Profile

__all__ = ["detect_drift"]

TOP_CATEGORIES = 20
"""Categories shown in a categorical column's distribution (the rest as ``"__other__"``)."""
MAX_NEW_CATEGORIES = 100
"""New categories listed per column (most frequent first; ``new_category_share`` counts all)."""

Tests = str | DriftTest | Sequence[str | DriftTest] | Mapping[str, str | DriftTest] | None


def detect_drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    tests: Tests = None,
    *,
    prediction: str | None = None,
    drift_share: float = 0.5,
    sample_size: int = 10_000,
    seed: int = 0,
    bins: int | None = None,
) -> DriftReport:
    """The :class:`DriftReport` of ``current`` against ``reference``.

    ``columns`` (default: the reference's, less ``prediction``) must exist in the reference; a
    column missing from the current side is reported as skipped. ``tests`` forces tests: a name
    (``"ks"``, ``"wasserstein"``, ``"psi"``, ``"jensenshannon"``, ``"chisquare"``) or a
    :class:`DriftTest`, a list of them (per column the first that applies to its kind), or a dict
    ``{column: test}`` (the other columns keep the default rule). ``prediction`` names the model
    output column, reported as the dataset's ``prediction`` entry. The dataset drifts when the
    share of drifted columns is at least ``drift_share``. ``sample_size`` and ``seed`` are used
    when a side has to be profiled; ``bins`` (default: the reference profile's, 10) is the number
    of quantile bins of numeric columns for PSI, Jensen-Shannon and the plotted distribution.
    """
    if isinstance(drift_share, bool) or not isinstance(drift_share, int | float) or not 0 < drift_share <= 1:
        raise InvalidInput(
            f"drift_share must be a number in (0, 1], got {drift_share!r}", drift_share=drift_share
        )
    options = {"sample_size": sample_size, "seed": seed, **({"bins": bins} if bins is not None else {})}
    ref_profile, names = _reference_side(reference, columns, prediction, options)
    wanted = [*names, *([prediction] if prediction is not None else [])]
    cur_profile = _current_side(current, wanted, {**options, "seed": seed + 1})
    kinds = {name: ref_profile.columns[name].kind for name in wanted}
    forced = _forced_tests(tests, kinds)
    bins = bins if bins is not None else ref_profile.bins
    results = {name: column_drift(name, ref_profile, cur_profile, forced[name], bins) for name in names}
    predicted = None
    if prediction is not None:
        predicted = column_drift(prediction, ref_profile, cur_profile, forced[prediction], bins)
    meta = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loopml_version": _version(),
        "reference": _describe(reference),
        "current": _describe(current),
    }
    return DriftReport(
        results, float(drift_share), ref_profile.n_rows, cur_profile.n_rows, RULE, predicted, meta
    )


# ------------------------------------------------------------------------------------------ sides


def _frame_columns(side: Any) -> list[str] | None:
    """The column names of a DataFrame or a Profile (``None`` for files: known once read)."""
    from .profiles import Profile

    if isinstance(side, Profile):
        return list(side.columns)
    import pandas as pd

    return [str(c) for c in side.columns] if isinstance(side, pd.DataFrame) else None


def _profiled(side: Any, columns: list[str] | None, options: Mapping[str, Any]) -> Profile:
    from .profiles import Profile, profile

    if isinstance(side, Profile):
        return side
    return profile(side, columns=columns, **options)


def _reference_side(
    reference: Any, columns: Sequence[str] | None, prediction: str | None, options: Mapping[str, Any]
) -> tuple[Profile, list[str]]:
    available = _frame_columns(reference)
    ref_profile = None
    if available is None:  # files: profile everything, then check the names
        ref_profile = _profiled(reference, None, options)
        available = list(ref_profile.columns)
    if isinstance(columns, str):
        columns = [columns]
    names = [c for c in available if c != prediction] if columns is None else list(dict.fromkeys(columns))
    unknown = [
        c for c in [*names, *([prediction] if prediction is not None else [])] if c not in set(available)
    ]
    if unknown:
        raise InvalidInput(
            f"unknown column(s) {unknown} (columns= / prediction=): the reference has {available}",
            columns=unknown,
        )
    if ref_profile is None:
        ref_profile = _profiled(reference, [*names, *([prediction] if prediction else [])], options)
    return ref_profile, names


def _current_side(current: Any, wanted: list[str], options: Mapping[str, Any]) -> Profile:
    available = _frame_columns(current)
    if available is None:
        return _profiled(current, None, options)
    present = set(available)
    return _profiled(current, [c for c in wanted if c in present], options)


def _describe(side: Any) -> str:
    from .profiles import Profile

    if isinstance(side, Profile):
        return f"Profile ({side.n_rows} rows x {len(side.columns)} columns)"
    shape = getattr(side, "shape", None)
    if shape is not None and len(shape) == 2:
        return f"DataFrame ({shape[0]} rows x {shape[1]} columns)"
    return os.fspath(side) if isinstance(side, str | os.PathLike) else type(side).__name__


def _version() -> str:
    from .._version import __version__

    return __version__


# ------------------------------------------------------------------------------------------ tests=


def _forced_tests(tests: Tests, kinds: Mapping[str, str]) -> dict[str, DriftTest | None]:
    """The forced test per column (``None``: the default rule), checked against the kinds."""
    forced: dict[str, DriftTest | None] = dict.fromkeys(kinds)
    if tests is None:
        return forced
    if isinstance(tests, Mapping):
        unknown = [c for c in tests if c not in kinds]
        if unknown:
            raise InvalidInput(f"tests= names unknown column(s) {unknown}; the columns are {list(kinds)}")
        for column, name in tests.items():
            forced[column] = _applicable(drift_test(name), column, kinds[column])
        return forced
    candidates = [drift_test(t) for t in ([tests] if isinstance(tests, str | DriftTest) else list(tests))]
    if not candidates:
        raise InvalidInput("tests= is an empty list; give test names or leave it out for the default rule")
    for column, kind in kinds.items():
        chosen = next((t for t in candidates if t.applies_to(kind)), None)
        if chosen is None and kind != "datetime":  # datetime columns stay skipped
            _applicable(candidates[0], column, kind)
        forced[column] = chosen
    return forced


def _applicable(test: DriftTest, column: str, kind: str) -> DriftTest:
    if not test.applies_to(kind):
        raise InvalidInput(
            f"drift test {test.name!r} does not apply to column {column!r}, which is {kind}; it applies to"
            f" {sorted(test.kinds)} columns (pass a list or a dict to tests= to choose per column)",
            test=test.name,
            column=column,
            kind=kind,
        )
    return test


# ----------------------------------------------------------------------------------------- columns


def _family(kind: str) -> str:
    return "categorical" if kind in CATEGORICAL_KINDS else kind


def column_drift(
    name: str, reference: Profile, current: Profile, forced: DriftTest | None = None, bins: int = 10
) -> ColumnDrift:
    """The drift of one column: the verdict (default rule or ``forced``) and what goes with it."""
    ref = reference.columns[name]
    cur = current.columns.get(name)
    if cur is None:
        return _skipped(ref, None, "not in the current data")
    missing = missing_change(ref, cur)
    if _family(ref.kind) != _family(cur.kind):
        return _skipped(
            ref, cur, f"kind changed: {ref.kind} in the reference, {cur.kind} in the current data", missing
        )
    for side, column in (("the reference", ref), ("the current data", cur)):
        if column.count == 0:
            return _skipped(ref, cur, f"no values in {side}", missing)
    if forced is None and ref.kind == "datetime":
        return _skipped(ref, cur, "datetime column (force tests='ks' or 'wasserstein' to test it)", missing)
    pair = ColumnPair(name, reference, current, bins=bins)
    verdict: Verdict = forced_verdict(pair, forced) if forced is not None else default_verdict(pair)
    if verdict.drift_detected is None:
        return _skipped(ref, cur, verdict.reason, missing)
    new, new_share = new_categories(ref, cur)
    effect = verdict.effect
    return ColumnDrift(
        name=name,
        kind=ref.kind,
        test=verdict.test,
        statistic=verdict.statistic,
        p_value=verdict.p_value,
        threshold=verdict.threshold,
        drift_detected=verdict.drift_detected,
        reason=verdict.reason,
        effect=None
        if effect is None
        else {"name": effect.name, "value": effect.value, "threshold": effect.threshold},
        scores=scores(pair),
        reference_count=ref.count,
        current_count=cur.count,
        missing=missing,
        new_categories=new,
        new_category_share=new_share,
        distribution=distribution(pair),
    )


def _skipped(
    ref: ColumnProfile, cur: ColumnProfile | None, why: str, missing: MissingChange | None = None
) -> ColumnDrift:
    return ColumnDrift(
        name=ref.name,
        kind=ref.kind,
        test=None,
        statistic=None,
        p_value=None,
        threshold=None,
        drift_detected=None,
        reason=f"skipped: {why}",
        skipped=why,
        reference_count=ref.count,
        current_count=cur.count if cur is not None else 0,
        missing=missing,
    )


def missing_change(ref: ColumnProfile, cur: ColumnProfile) -> MissingChange:
    """Both missing shares; changed when p < 0.05 (two proportions) and |Cohen's h| >= 0.1."""
    n_ref, n_cur = ref.count + ref.missing, cur.count + cur.missing
    p = stats.two_proportions(ref.missing, n_ref, cur.missing, n_cur)
    h = abs(float(stats.cohen_h(cur.missing_share, ref.missing_share)[0]))
    changed = not math.isnan(p) and p < ALPHA and h >= MIN_EFFECT
    return MissingChange(ref.missing_share, cur.missing_share, changed, None if math.isnan(p) else p)


def new_categories(ref: ColumnProfile, cur: ColumnProfile) -> tuple[tuple[str, ...], float | None]:
    """Current categories absent from the reference (most frequent first, at most
    ``MAX_NEW_CATEGORIES``) and their share of the current values. Only known when the reference
    kept all its categories (``other == 0``): otherwise ``((), None)``."""
    if ref.categories is None or cur.categories is None or ref.other:
        return (), None
    new = [key for key in cur.categories if key not in ref.categories]
    share = sum(cur.categories[key] for key in new) / cur.count if cur.count else 0.0
    return tuple(new[:MAX_NEW_CATEGORIES]), share


def distribution(pair: ColumnPair) -> dict[str, Any] | None:
    """Both sides' shares for plotting (see the module docstring)."""
    if pair.kind in CATEGORICAL_KINDS:
        labels, ref, cur = pair.categories
        ref_share, cur_share = stats.shares(ref), stats.shares(cur)
        order = [i for i in np.argsort(-(ref_share + cur_share), kind="stable") if labels[i] != OTHER]
        top = sorted(order[:TOP_CATEGORIES])
        shown_set = set(top)
        rest = [i for i in range(len(labels)) if i not in shown_set]
        shown = [labels[i] for i in top]
        ref_shown, cur_shown = [ref_share[i] for i in top], [cur_share[i] for i in top]
        if rest:
            shown.append(OTHER)
            ref_shown.append(float(ref_share[rest].sum()))
            cur_shown.append(float(cur_share[rest].sum()))
        return {"type": "categories", "categories": shown, "reference": ref_shown, "current": cur_shown}
    if pair.kind == "numeric":
        edges, ref, cur = pair.binned
    else:  # datetime (forced): equal-width bins over both samples
        ref_values, cur_values = pair.values
        edges = np.histogram_bin_edges(np.concatenate([ref_values, cur_values]), bins=pair.bins)
        ref, cur = np.histogram(ref_values, edges)[0], np.histogram(cur_values, edges)[0]
    if len(edges) < 2:
        return None
    return {"type": "histogram", "edges": edges, "reference": stats.shares(ref), "current": stats.shares(cur)}
