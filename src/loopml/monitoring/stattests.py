"""Drift tests — small plugins — and the default rule that decides when a column drifted.

A :class:`DriftTest` has a name, the column kinds it applies to, a statistic computed from a
:class:`ColumnPair` (the reference and current profiles of one column) and a default threshold.
The built-in tests (``drift_tests()``):

=================  ==============================  ======================  =========================
name               kinds                           statistic               drifts when
=================  ==============================  ======================  =========================
``ks``             numeric, datetime               two-sample KS D         p-value < 0.05
``wasserstein``    numeric, datetime               Wasserstein / ref. std  >= 0.1
``psi``            numeric, categorical, boolean,  Population Stability    >= 0.1
                   text                            Index
``jensenshannon``  numeric, categorical, boolean,  Jensen-Shannon          >= 0.1
                   text                            distance (base 2)
``chisquare``      categorical, boolean, text      chi-square statistic    p-value < 0.05
=================  ==============================  ======================  =========================

Where the numbers come from: KS and Wasserstein use the profiles' row samples
(``Profile.column_values``, at most ``sample_size`` values a side); PSI and Jensen-Shannon on a
numeric column count both sides' full data (their sketches) in the reference's quantile bins
(``ColumnProfile.histogram(bins)`` edges; a constant reference gets the three bins below / at /
above its value); categorical statistics use the exact category counts.

**The default rule** (used unless ``tests=`` forces a test): a column drifts when the change is
both *real* — a test of "same distribution" rejects at ``ALPHA`` = 0.05 — and *large enough to
matter* — an effect size of at least ``MIN_EFFECT`` = 0.1:

- numeric: KS p-value < 0.05 AND Wasserstein distance / reference std >= 0.1;
- categorical, boolean, text: chi-square homogeneity p-value < 0.05 AND the largest |Cohen's h|
  over the (pooled) categories >= 0.1;
- datetime: skipped (force ``ks`` or ``wasserstein`` to test one).

Why both halves. A p-value alone flags everything at large n: with a million rows a shift of
0.01 standard deviations is "significant" but harmless. A distance alone false-alarms at small n:
sampling noise alone moves PSI, JS or Wasserstein above any fixed threshold when there are few
rows (or many categories). Requiring both keeps the false-alarm rate at most the test's 5 %
whatever the size (the significance half is calibrated; the effect half only removes flags) and
ignores changes too small to matter however much data there is. 0.1 is half of Cohen's "small"
effect (0.2): a 0.2-standard-deviation mean shift scores W/std = 0.2, a category share doubling
from 8.5 % to 17 % scores h = 0.26. Awkward columns stay sound: ties make KS conservative, heavy
tails inflate the std (so W/std stays small unless the bulk moves), missing values are left out
of the distributions (their change is reported separately), a constant reference is scaled by
the pooled std, and rare categories are pooled until every expected count is at least 5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput
from . import statistics as stats

if TYPE_CHECKING:
    from .profiles import ColumnProfile, Profile

__all__ = [
    "ALPHA",
    "CATEGORICAL_KINDS",
    "MIN_EFFECT",
    "OTHER",
    "RULE",
    "ColumnPair",
    "DriftTest",
    "Effect",
    "Verdict",
    "default_verdict",
    "drift_test",
    "drift_tests",
]

ALPHA = 0.05
"""The significance level of the default rule's test."""
MIN_EFFECT = 0.1
"""The smallest effect size (W/std or |Cohen's h|) the default rule calls drift."""
CATEGORICAL_KINDS = frozenset({"categorical", "boolean", "text"})
OTHER = "__other__"
RULE = (
    "A column drifts when the change is both real and large enough to matter: numeric, KS p-value < 0.05"
    " and Wasserstein distance / reference std >= 0.1; categorical, boolean and text, chi-square"
    " p-value < 0.05 and the largest |Cohen's h| between category shares >= 0.1; datetime columns"
    " are skipped."
)


class ColumnPair:
    """One column's reference and current profiles, with what the tests read computed once
    (on first use) and shared: the samples' KS/Wasserstein, the binned counts, the aligned
    category counts."""

    def __init__(self, name: str, reference: Profile, current: Profile, *, bins: int = 10) -> None:
        self.name = name
        self.reference_profile, self.current_profile = reference, current
        self.reference: ColumnProfile = reference.columns[name]
        self.current: ColumnProfile = current.columns[name]
        self.kind = self.reference.kind
        self.bins = bins

    @cached_property
    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """The two samples' non-missing values (numeric / datetime)."""
        ref = self.reference_profile.column_values(self.name)
        cur = self.current_profile.column_values(self.name)
        return np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)

    @cached_property
    def sample_statistics(self) -> tuple[float, float, float]:
        """``(KS D, KS p-value, Wasserstein / scale)`` of the samples."""
        ref, cur = self.values
        d, p, w = stats.ks_and_wasserstein(ref, cur)
        return d, p, stats.wasserstein_norm(w, stats.drift_scale(ref, cur, self.reference.std))

    @cached_property
    def binned(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(edges, reference counts, current counts)`` in the reference's quantile bins."""
        edges = numeric_edges(self.reference, self.current, self.bins)
        if edges.size < 2:
            return edges, np.zeros(0), np.zeros(0)
        return edges, self.reference.counts_in(edges), self.current.counts_in(edges)

    @cached_property
    def categories(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(labels, reference counts, current counts)``; see :func:`aligned_categories`."""
        return aligned_categories(self.reference, self.current)

    @cached_property
    def pooled_table(self) -> np.ndarray:
        """The 2 x K contingency table, categories with expected count < 5 pooled."""
        _, ref, cur = self.categories
        return stats.pool_sparse(ref, cur)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The count vectors the distance tests compare: bins (numeric) or categories."""
        if self.kind in CATEGORICAL_KINDS:
            return self.categories[1], self.categories[2]
        return self.binned[1], self.binned[2]


def numeric_edges(reference: ColumnProfile, current: ColumnProfile, bins: int) -> np.ndarray:
    """The reference's quantile edges; for a constant reference ``c``, the edges of the bins
    below ``c``, at ``c`` and above ``c`` (over both sides' range); empty when the reference is."""
    if reference.count == 0:
        return np.zeros(0)
    edges, _ = reference.histogram(bins)
    if edges.size >= 3 or edges.size == 0:
        return np.asarray(edges, dtype=np.float64)
    c = float(edges[0])
    lows = [v for v in (current.min if current.count else None, c) if v is not None]
    highs = [v for v in (current.max if current.count else None, np.nextafter(c, np.inf)) if v is not None]
    return np.unique(np.array([min(lows), c, np.nextafter(c, np.inf), max(highs)], dtype=np.float64))


def aligned_categories(
    reference: ColumnProfile, current: ColumnProfile
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Both sides' counts over the same categories: every category whose count is known on both
    sides keeps its own column (a side with no ``other`` knows that an absent category has count
    0, so unseen categories stand alone); a category kept by one side only while the other lumped
    its rare values into ``other`` cannot be compared, and joins ``"__other__"`` on both sides."""
    ref, cur = reference.categories or {}, current.categories or {}
    ref_complete, cur_complete = reference.other == 0, current.other == 0
    labels: list[str] = []
    ref_counts: list[int] = []
    cur_counts: list[int] = []
    ref_rest, cur_rest = reference.other, current.other
    for key in dict.fromkeys([*ref, *cur]):
        r, c = ref.get(key), cur.get(key)
        if (r is not None or ref_complete) and (c is not None or cur_complete):
            labels.append(key)
            ref_counts.append(r or 0)
            cur_counts.append(c or 0)
        else:
            ref_rest += r or 0
            cur_rest += c or 0
    if ref_rest or cur_rest:
        labels.append(OTHER)
        ref_counts.append(ref_rest)
        cur_counts.append(cur_rest)
    return labels, np.array(ref_counts, dtype=np.float64), np.array(cur_counts, dtype=np.float64)


# ------------------------------------------------------------------------------------------ tests


@dataclass(frozen=True)
class Outcome:
    """What a test found on one column: its statistic and p-value (``None`` for distances)."""

    statistic: float
    p_value: float | None


@dataclass(frozen=True)
class DriftTest:
    """A drift test: ``compute(pair)`` gives the statistic (and p-value for hypothesis tests);
    the column drifts when the p-value is below ``threshold`` (``uses_p_value``) or else when
    the statistic is at least ``threshold``."""

    name: str
    kinds: frozenset[str]
    statistic: str
    threshold: float
    compute: Callable[[ColumnPair], Outcome]
    uses_p_value: bool = False

    def applies_to(self, kind: str) -> bool:
        return kind in self.kinds

    def decide(self, outcome: Outcome, threshold: float | None = None) -> bool | None:
        """Drifted or not (``None`` when the value is not a number, e.g. an empty side)."""
        limit = self.threshold if threshold is None else threshold
        value = outcome.p_value if self.uses_p_value else outcome.statistic
        if value is None or math.isnan(value):
            return None
        return bool(value < limit) if self.uses_p_value else bool(value >= limit)


def _ks(pair: ColumnPair) -> Outcome:
    d, p, _ = pair.sample_statistics
    return Outcome(d, p)


def _wasserstein(pair: ColumnPair) -> Outcome:
    return Outcome(pair.sample_statistics[2], None)


def _psi(pair: ColumnPair) -> Outcome:
    return Outcome(stats.psi(*pair.counts()), None)


def _jensenshannon(pair: ColumnPair) -> Outcome:
    return Outcome(stats.jensenshannon(*pair.counts()), None)


def _chisquare(pair: ColumnPair) -> Outcome:
    statistic, p, _ = stats.chi_square_table(pair.pooled_table)
    return Outcome(statistic, p)


_SAMPLED = frozenset({"numeric", "datetime"})
_BINNED = frozenset({"numeric"}) | CATEGORICAL_KINDS

_BUILT_IN: Mapping[str, DriftTest] = MappingProxyType(
    {
        t.name: t
        for t in (
            DriftTest("ks", _SAMPLED, "two-sample Kolmogorov-Smirnov D", ALPHA, _ks, uses_p_value=True),
            DriftTest("wasserstein", _SAMPLED, "Wasserstein distance / reference std", 0.1, _wasserstein),
            DriftTest("psi", _BINNED, "Population Stability Index", 0.1, _psi),
            DriftTest("jensenshannon", _BINNED, "Jensen-Shannon distance (base 2)", 0.1, _jensenshannon),
            DriftTest(
                "chisquare", CATEGORICAL_KINDS, "chi-square homogeneity", ALPHA, _chisquare, uses_p_value=True
            ),
        )
    }
)


def drift_tests() -> dict[str, DriftTest]:
    """The built-in drift tests by name (a new dict each call)."""
    return dict(_BUILT_IN)


def drift_test(name: str | DriftTest) -> DriftTest:
    """The built-in test called ``name`` (a :class:`DriftTest` is returned as it is);
    InvalidInput listing the known names otherwise."""
    if isinstance(name, DriftTest):
        return name
    test = _BUILT_IN.get(name) if isinstance(name, str) else None
    if test is None:
        raise InvalidInput(
            f"unknown drift test {name!r}; the known tests are {sorted(_BUILT_IN)}",
            test=str(name),
            known=sorted(_BUILT_IN),
        )
    return test


# ------------------------------------------------------------------------------------ the verdict


@dataclass(frozen=True)
class Effect:
    """The effect size the default rule requires: its name, value and threshold."""

    name: str
    value: float
    threshold: float


@dataclass(frozen=True)
class Verdict:
    """How a column was decided: the test, its numbers, the effect (default rule) and why."""

    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drift_detected: bool | None
    reason: str
    effect: Effect | None = None


def scores(pair: ColumnPair) -> dict[str, float]:
    """Every built-in statistic that applies to the column's kind, by test name."""
    return {
        name: test.compute(pair).statistic for name, test in _BUILT_IN.items() if test.applies_to(pair.kind)
    }


def forced_verdict(pair: ColumnPair, test: DriftTest) -> Verdict:
    """The verdict of ``test`` alone against its own threshold."""
    outcome = test.compute(pair)
    drifted = test.decide(outcome)
    if test.uses_p_value:
        shown, sign = f"{test.name} p={_num(outcome.p_value)}", "<" if drifted else ">="
    else:
        shown, sign = f"{test.name} {_num(outcome.statistic)}", ">=" if drifted else "<"
    reason = (
        "not computable (a side has no values)" if drifted is None else f"{shown} {sign} {test.threshold}"
    )
    return Verdict(test.name, outcome.statistic, outcome.p_value, test.threshold, drifted, reason)


def default_verdict(pair: ColumnPair) -> Verdict:
    """The default rule (see the module docstring) for a numeric or categorical-family column."""
    if pair.kind in CATEGORICAL_KINDS:
        test, label = _BUILT_IN["chisquare"], "chi-square"
        table = pair.pooled_table
        effect = Effect(
            "cohen_h", stats.max_cohen_h(table[0], table[1]) if table.size else math.nan, MIN_EFFECT
        )
        effect_label = "max |Cohen's h|"
    else:
        test, label = _BUILT_IN["ks"], "KS"
        effect = Effect("wasserstein", pair.sample_statistics[2], MIN_EFFECT)
        effect_label = "Wasserstein/std"
    outcome = test.compute(pair)
    significant = test.decide(outcome)
    large = None if math.isnan(effect.value) else effect.value >= MIN_EFFECT
    if significant is None or large is None:
        drifted, reason = None, "not computable (a side has no values)"
    else:
        drifted = significant and large
        p_text = f"{label} p={_num(outcome.p_value)} {'<' if significant else '>='} {ALPHA}"
        e_text = f"{effect_label} {_num(effect.value)} {'>=' if large else '<'} {MIN_EFFECT}"
        if drifted:
            reason = f"{p_text} and {e_text}"
        elif significant:
            reason = f"{p_text} but {e_text} (too small to matter)"
        else:
            reason = f"{p_text} (no real change at this sample size); {e_text}"
    return Verdict(test.name, outcome.statistic, outcome.p_value, ALPHA, drifted, reason, effect)


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):.3g}"
