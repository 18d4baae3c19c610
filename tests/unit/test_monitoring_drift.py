"""detect_drift: the default rule's soundness on synthetic data, tests=, prediction=, the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from loopml.errors import InvalidInput
from loopml.monitoring.drift import detect_drift
from loopml.monitoring.profiles import profile
from loopml.monitoring.report import DriftReport
from loopml.monitoring.stattests import RULE, ColumnPair, DriftTest, Outcome, drift_test, drift_tests

CATEGORIES = np.array([f"c{i}" for i in range(10)], dtype=object)
SHARES = np.array([0.3, 0.2, 0.1, 0.1, 0.085, 0.075, 0.05, 0.04, 0.03, 0.02])
TEXT = np.array([f"t{i}" for i in range(5_000)], dtype=object)
RARE = np.array([f"r{i}" for i in range(200)], dtype=object)


def awkward_frame(n: int, seed: int) -> pd.DataFrame:
    """Ordinary and awkward columns: heavy tails, ties, 30 % missing, constant, boolean,
    rare categories and 5,000-category text."""
    rng = np.random.default_rng(seed)
    with_missing = rng.normal(size=n)
    with_missing[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame(
        {
            "normal": rng.normal(5.0, 2.0, n),
            "lognormal": rng.lognormal(0.0, 1.0, n),
            "uniform": rng.uniform(0.0, 1.0, n),
            "cauchy": rng.standard_cauchy(n),
            "codes": rng.integers(0, 5, n),
            "binary": rng.integers(0, 2, n),
            "poisson": rng.poisson(1.5, n),
            "missing": with_missing,
            "constant": np.full(n, 3.0),
            "boolean": rng.random(n) < 0.3,
            "category": CATEGORIES[rng.choice(10, n, p=SHARES)],
            "rare": RARE[np.minimum(rng.geometric(0.05, n), 199)],
            "text": TEXT[rng.integers(0, 5_000, n)],
            "beta": rng.beta(0.5, 0.5, n),
        }
    )


def flag_rate(n: int, seeds: int) -> tuple[float, dict[str, int]]:
    flagged: dict[str, int] = {}
    tested = 0
    for seed in range(seeds):
        report = detect_drift(awkward_frame(n, 2 * seed), awkward_frame(n, 2 * seed + 1), seed=seed)
        assert report.skipped_columns == []
        tested += report.n_columns
        for name in report.drifted_columns:
            flagged[name] = flagged.get(name, 0) + 1
    return sum(flagged.values()) / tested, flagged


# ------------------------------------------------------------------------------- no false alarms


@pytest.mark.parametrize(("n", "seeds"), [(1_000, 12), (10_000, 5), (100_000, 2)])
def test_same_distribution_flags_at_most_5_percent_of_columns(n: int, seeds: int) -> None:
    rate, flagged = flag_rate(n, seeds)
    assert rate <= 0.05, flagged


def test_a_million_rows_without_drift_raise_no_alarm() -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)

    def frame() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "normal": rng.normal(size=n),
                "codes": rng.integers(0, 5, n),
                "category": pd.Categorical.from_codes(rng.choice(10, n, p=SHARES), list(CATEGORIES)),
                "boolean": rng.random(n) < 0.3,
            }
        )

    report = detect_drift(frame(), frame())
    assert report.drifted_columns == []
    assert report.reference_rows == report.current_rows == n


def test_a_significant_but_tiny_change_is_not_drift() -> None:
    rng = np.random.default_rng(3)
    n = 100_000
    reference = pd.DataFrame({"x": rng.normal(size=n)})
    current = pd.DataFrame({"x": rng.normal(0.05, 1.0, size=n)})
    column = detect_drift(reference, current, sample_size=n)["x"]
    assert column.p_value is not None and column.p_value < 1e-6
    assert column.effect is not None and column.effect["value"] < 0.1
    assert column.drift_detected is False
    assert "too small to matter" in column.reason
    # the p-value alone (forced KS) would call it drift
    assert detect_drift(reference, current, tests="ks", sample_size=n)["x"].drift_detected is True


# ------------------------------------------------------------------------------------ real drift

FAMILIES = {
    "normal": (lambda rng, n: rng.normal(0.0, 1.0, n), 1.0),
    "lognormal": (lambda rng, n: rng.lognormal(0.0, 1.0, n), math.sqrt((math.e - 1) * math.e)),
    "uniform": (lambda rng, n: rng.uniform(0.0, 1.0, n), 1 / math.sqrt(12)),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_fifth_of_a_standard_deviation_shift_is_flagged_at_10_000_rows(family: str, seed: int) -> None:
    draw, std = FAMILIES[family]
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({family: draw(rng, 10_000)})
    current = pd.DataFrame({family: draw(rng, 10_000) + 0.2 * std})
    column = detect_drift(reference, current)[family]
    assert column.drift_detected is True, column.reason
    assert column.test == "ks"
    assert column.effect is not None and column.effect["name"] == "wasserstein"
    assert column.effect["value"] == pytest.approx(0.2, abs=0.05)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_category_share_doubled_is_flagged_at_10_000_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    doubled = SHARES.copy()
    doubled[4] = 0.17  # c4: 8.5 % -> 17 %, the others shrink in proportion
    doubled[[0, 1, 2, 3, 5, 6, 7, 8, 9]] *= (1 - 0.17) / (1 - 0.085)
    reference = pd.DataFrame({"category": CATEGORIES[rng.choice(10, 10_000, p=SHARES)]})
    current = pd.DataFrame({"category": CATEGORIES[rng.choice(10, 10_000, p=doubled)]})
    column = detect_drift(reference, current)["category"]
    assert column.drift_detected is True, column.reason
    assert column.test == "chisquare"
    assert column.effect is not None and column.effect["name"] == "cohen_h"
    assert column.effect["value"] == pytest.approx(0.26, abs=0.05)


def test_a_constant_that_moves_is_drift() -> None:
    report = detect_drift(pd.DataFrame({"c": np.zeros(500)}), pd.DataFrame({"c": np.ones(400)}))
    assert report["c"].drift_detected is True
    assert report["c"].effect is not None and report["c"].effect["value"] >= 2
    # a constant reference gets the bins below / at / above its value, so PSI and JS see the move
    assert report["c"].scores["psi"] > 1 and report["c"].scores["jensenshannon"] == pytest.approx(1.0)
    edges = report["c"].to_dict()["distribution"]["edges"]
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 3


def test_a_new_category_is_reported_and_flagged() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"category": CATEGORIES[rng.choice(10, 5_000, p=SHARES)]})
    values = CATEGORIES[rng.choice(10, 5_000, p=SHARES)]
    values[:500] = "brand-new"
    report = detect_drift(reference, pd.DataFrame({"category": values}))
    column = report["category"]
    assert column.new_categories == ("brand-new",)
    assert column.new_category_share == pytest.approx(0.1)
    assert column.drift_detected is True
    assert report.to_dict()["dataset"]["new_categories"] == {"category": ["brand-new"]}
    assert "brand-new" in column.to_dict()["distribution"]["categories"]


def test_missing_values_changes() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=10_000), rng.normal(size=10_000)
    y[rng.random(10_000) < 0.2] = np.nan
    report = detect_drift(
        pd.DataFrame({"x": x, "same": x}), pd.DataFrame({"x": y, "same": rng.normal(size=10_000)})
    )
    assert report["x"].missing is not None and report["x"].missing.changed is True
    assert report["x"].missing.current == pytest.approx(0.2, abs=0.02)
    assert report["x"].drift_detected is False  # the values themselves did not move
    assert report["same"].missing is not None and report["same"].missing.changed is False
    assert report.to_dict()["dataset"]["missing_changed"] == ["x"]


def test_awkward_columns_are_tested_not_crashed() -> None:
    report = detect_drift(awkward_frame(10_000, 0), awkward_frame(10_000, 1))
    assert report.skipped_columns == []
    kinds = {name: column.kind for name, column in report.columns.items()}
    assert kinds["boolean"] == "boolean" and kinds["text"] == "text" and kinds["category"] == "categorical"
    assert report["constant"].statistic == 0.0 and report["constant"].drift_detected is False
    assert report["text"].new_categories == ()  # the reference lumped rare values: unknowable
    assert report["missing"].reference_count < 7_500


def test_empty_and_absent_columns_are_skipped_with_a_reason() -> None:
    reference = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"], "gone": [1, 2, 3]})
    current = pd.DataFrame({"a": [np.nan] * 3, "b": [None, None, None]})
    report = detect_drift(reference, current)
    assert report["a"].skipped == "no values in the current data"
    assert report["a"].missing is not None and report["a"].missing.current == 1.0
    assert report["b"].skipped == "no values in the current data"
    assert report["gone"].skipped == "not in the current data"
    assert report.n_columns == 0 and report.drift_detected is False
    assert report.to_dict()["columns"]["gone"]["drift_detected"] is None


# ------------------------------------------------------------- the statistics are scipy's numbers


def test_reported_statistics_equal_scipy_on_the_same_inputs() -> None:
    frame_a, frame_b = awkward_frame(5_000, 11), awkward_frame(4_000, 12)
    ref, cur = profile(frame_a, seed=0), profile(frame_b, seed=1)
    report = detect_drift(ref, cur)
    a, b = ref.column_values("normal"), cur.column_values("normal")
    expected = stats.ks_2samp(a, b, method="asymp")
    column = report["normal"]
    assert column.statistic == pytest.approx(expected.statistic)
    assert column.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    expected_w = stats.wasserstein_distance(a, b) / ref.columns["normal"].std
    assert column.scores["wasserstein"] == pytest.approx(expected_w, rel=1e-9)
    edges, _ = ref.columns["normal"].histogram(10)
    js = distance.jensenshannon(
        ref.columns["normal"].counts_in(edges), cur.columns["normal"].counts_in(edges), base=2
    )
    assert column.scores["jensenshannon"] == pytest.approx(js, rel=1e-9)
    cats_a, cats_b = ref.columns["category"].categories, cur.columns["category"].categories
    assert cats_a is not None and cats_b is not None
    table = np.array([[cats_a[k] for k in cats_a], [cats_b.get(k, 0) for k in cats_a]])
    chi = stats.chi2_contingency(table, correction=False)
    assert report["category"].statistic == pytest.approx(chi.statistic)
    assert report["category"].p_value == pytest.approx(chi.pvalue, rel=1e-9)


# ------------------------------------------------------------------------------------------ tests=


def small_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(21)
    make = lambda shift: pd.DataFrame(  # noqa: E731
        {
            "x": rng.normal(shift, 1.0, 3_000),
            "c": CATEGORIES[rng.choice(10, 3_000, p=SHARES)],
            "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, 3_000), unit="s"),
        }
    )
    return make(0.0), make(0.5)


def test_datetime_columns_are_skipped_by_default() -> None:
    report = detect_drift(*small_pair())
    assert report["when"].skipped is not None and "datetime" in report["when"].skipped
    assert report["x"].drift_detected is True


def test_one_forced_test_decides_alone_against_its_threshold() -> None:
    report = detect_drift(*small_pair(), tests="psi")
    for name in ("x", "c"):
        column = report[name]
        assert column.test == "psi" and column.effect is None and column.p_value is None
        assert column.threshold == drift_test("psi").threshold
        assert column.statistic == column.scores["psi"]
        assert column.drift_detected is (column.statistic >= column.threshold)
    assert report["when"].skipped is not None  # no PSI for datetime: still skipped


def test_a_list_takes_the_first_test_that_applies() -> None:
    report = detect_drift(*small_pair(), tests=["wasserstein", "jensenshannon"])
    assert (report["x"].test, report["c"].test, report["when"].test) == (
        "wasserstein",
        "jensenshannon",
        "wasserstein",
    )
    assert report["when"].distribution is not None and report["when"].distribution["type"] == "histogram"


def test_a_dict_forces_per_column() -> None:
    report = detect_drift(*small_pair(), tests={"when": "ks", "c": "psi"})
    assert (report["x"].test, report["c"].test, report["when"].test) == ("ks", "psi", "ks")
    assert report["x"].effect is not None and report["c"].effect is None


def test_a_custom_drift_test_plugs_in() -> None:
    def mean_gap(pair: ColumnPair) -> Outcome:
        ref, cur = pair.values
        return Outcome(abs(float(cur.mean() - ref.mean())), None)

    custom = DriftTest("mean_gap", frozenset({"numeric"}), "absolute mean difference", 0.3, mean_gap)
    report = detect_drift(*small_pair(), tests={"x": custom})
    assert report["x"].test == "mean_gap" and report["x"].drift_detected is True
    assert "mean_gap" not in drift_tests()


def test_unknown_and_inapplicable_tests_are_refused() -> None:
    reference, current = small_pair()
    with pytest.raises(InvalidInput, match=r"unknown drift test 'kolmogorov'.*chisquare.*wasserstein"):
        detect_drift(reference, current, tests="kolmogorov")
    with pytest.raises(InvalidInput, match="'chisquare' does not apply to column 'x', which is numeric"):
        detect_drift(reference, current, tests={"x": "chisquare"})
    with pytest.raises(InvalidInput, match="'ks' does not apply to column 'c', which is categorical"):
        detect_drift(reference, current, tests="ks")
    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['nope'\]"):
        detect_drift(reference, current, tests={"nope": "ks"})
    assert sorted(drift_tests()) == ["chisquare", "jensenshannon", "ks", "psi", "wasserstein"]


# ------------------------------------------------------------------------------- inputs, outputs


def test_bad_columns_and_share_are_refused_with_the_names() -> None:
    reference, current = small_pair()
    with pytest.raises(
        InvalidInput, match=r"unknown column\(s\) \['y', 'z'\].*the reference has \['x', 'c', 'when'\]"
    ):
        detect_drift(reference, current, columns=["x", "y", "z"])
    with pytest.raises(InvalidInput, match="drift_share must be a number in"):
        detect_drift(reference, current, drift_share=1.5)
    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['score'\]"):
        detect_drift(reference, current, prediction="score")


def test_prediction_drift_is_reported_at_dataset_level() -> None:
    reference, current = small_pair()
    reference["score"], current["score"] = reference["x"] * 2, current["x"] * 2
    report = detect_drift(reference, current, columns=["c"], prediction="score")
    assert list(report.columns) == ["c"]
    assert report.prediction is not None and report.prediction.drift_detected is True
    entry = report.to_dict()["dataset"]["prediction"]
    assert entry["name"] == "score" and entry["test"] == "ks" and entry["drift_detected"] is True


def test_profiles_and_files_are_accepted(tmp_path: Path) -> None:
    reference, current = small_pair()
    from_frames = detect_drift(reference, current)
    path = tmp_path / "current.parquet"
    current.to_parquet(path)
    from_file = detect_drift(profile(reference), path)
    assert from_file.drifted_columns == from_frames.drifted_columns
    assert from_file.to_dict()["meta"]["current"] == str(path)


def test_report_dict_shape_and_json_round_trip(tmp_path: Path) -> None:
    report = detect_drift(*small_pair(), drift_share=0.3)
    data = report.to_dict()
    assert set(data) == {"dataset", "columns", "meta"}
    dataset = data["dataset"]
    assert {"drift_share", "drift_detected", "drift_share_threshold", "n_columns", "n_drifted"} <= set(
        dataset
    )
    assert dataset["rule"] == RULE and dataset["drift_share_threshold"] == 0.3
    assert dataset["n_columns"] == 2 and dataset["drift_share"] == pytest.approx(dataset["n_drifted"] / 2)
    assert dataset["drift_detected"] is (dataset["drift_share"] >= 0.3)
    column_keys = {"kind", "test", "statistic", "p_value", "threshold", "effect", "drift_detected", "reason"}
    column_keys |= {"skipped", "scores", "reference_count", "current_count", "missing", "new_categories"}
    assert column_keys | {"distribution"} <= set(data["columns"]["x"])
    histogram = data["columns"]["x"]["distribution"]
    assert histogram["type"] == "histogram"
    assert len(histogram["edges"]) == len(histogram["reference"]) + 1 == len(histogram["current"]) + 1
    assert sum(histogram["reference"]) == pytest.approx(1.0)
    assert set(data["columns"]["x"]["scores"]) == {"ks", "wasserstein", "psi", "jensenshannon"}
    assert set(data["columns"]["c"]["scores"]) == {"chisquare", "psi", "jensenshannon"}
    json.dumps(data, allow_nan=False)  # plain Python values only, no NaN
    assert orjson.loads(report.to_json()) == data
    report.to_json(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == data


def test_nan_and_infinity_become_null() -> None:
    report = detect_drift(
        pd.DataFrame({"c": np.zeros(50)}), pd.DataFrame({"c": np.zeros(40)}), tests="wasserstein"
    )
    assert report["c"].statistic == 0.0
    skipped = detect_drift(pd.DataFrame({"c": [1.0, 2.0]}), pd.DataFrame({"c": [np.nan, np.nan]}))
    entry = skipped.to_dict()["columns"]["c"]
    assert entry["statistic"] is None and entry["test"] is None and entry["missing"]["current"] == 1.0


def test_to_html_writes_the_page(tmp_path: Path) -> None:
    report = detect_drift(*small_pair())
    target = report.to_html(tmp_path / "drift.html")
    page = target.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "when" in page and "datetime" in page


def test_repr_and_summary_name_the_drifted_columns() -> None:
    report: DriftReport = detect_drift(*small_pair())
    assert report.drifted_columns == ["x"]
    assert "1/2 columns drifted" in repr(report)
    assert "x: KS p=" in report.summary() and "when: skipped" in report.summary()
    assert repr(report["x"]).startswith("ColumnDrift('x', numeric, ks: DRIFT")


def test_bins_sets_the_numeric_histogram() -> None:
    report = detect_drift(*small_pair(), bins=4)
    distribution = report["x"].to_dict()["distribution"]
    assert len(distribution["edges"]) == 5 and len(distribution["current"]) == 4
