"""The HTML drift report: verdict, summary table, one chart per column, escaping, self-containment."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest

from loopml.monitoring.report_html import render_html
from loopml.monitoring.report_svg import fmt_number, fmt_share

HOSTILE = '<script>&"x"'
VOID = {"meta", "input", "br", "img", "link", "hr", "wbr", "col", "source"}


def numeric(*, drift: bool, effect: float | None, bins: int = 4, **extra: Any) -> dict[str, Any]:
    entry = {
        "kind": "numeric",
        "test": "ks",
        "statistic": 0.031,
        "p_value": 1.2e-5 if drift else 0.42,
        "threshold": 0.05,
        "effect": {"name": "wasserstein", "value": effect, "threshold": 0.1},
        "drift_detected": drift,
        "reason": "KS p=1.2e-05 < 0.05 and Wasserstein/std 0.21 >= 0.1" if drift else "KS p=0.42 >= 0.05",
        "skipped": None,
        "scores": {"ks": 0.031, "wasserstein": effect, "psi": 0.05},
        "reference_count": 1000,
        "current_count": 990,
        "missing": {"reference": 0.0, "current": 0.01, "changed": False},
        "new_categories": [],
        "distribution": {
            "type": "histogram",
            "edges": [float(i) * 1234.5678 for i in range(bins + 1)],
            "reference": [1 / bins] * bins,
            "current": [0.5] + [0.5 / (bins - 1)] * (bins - 1),
        },
    }
    return {**entry, **extra}


def categorical(
    *, drift: bool, categories: list[str], new: list[str], kind: str = "categorical", **extra: Any
) -> dict[str, Any]:
    n = len(categories)
    entry = {
        "kind": kind,
        "test": "chi2",
        "statistic": 154.2,
        "p_value": 1e-30 if drift else 0.3,
        "threshold": 0.05,
        "effect": {"name": "cohen_h", "value": 0.34 if drift else 0.02, "threshold": 0.1},
        "drift_detected": drift,
        "reason": "chi-square p=1e-30 < 0.05" if drift else "chi-square p=0.3 >= 0.05",
        "skipped": None,
        "scores": {"chi2": 154.2},
        "reference_count": 1000,
        "current_count": 1000,
        "missing": {"reference": 0.0, "current": 0.0, "changed": False},
        "new_categories": new,
        "distribution": {
            "type": "categories",
            "categories": categories,
            "reference": [0.0 if c in new else 1 / (n - len(new)) for c in categories],
            "current": [1 / n] * n,
        },
    }
    return {**entry, **extra}


def skipped(reason: str) -> dict[str, Any]:
    return {
        "kind": "datetime",
        "test": None,
        "statistic": None,
        "p_value": None,
        "threshold": None,
        "effect": None,
        "drift_detected": None,
        "reason": None,
        "skipped": reason,
        "scores": {},
        "reference_count": 1000,
        "current_count": 1000,
        "missing": {"reference": 0.0, "current": 0.0, "changed": False},
        "new_categories": [],
        "distribution": None,
    }


def make_report(columns: dict[str, Any], *, prediction: dict[str, Any] | None = None) -> dict[str, Any]:
    n_drifted = sum(1 for c in columns.values() if c["drift_detected"])
    share = n_drifted / len(columns) if columns else 0.0
    return {
        "dataset": {
            "drift_detected": share >= 0.5 and bool(columns),
            "drift_share": share,
            "drift_share_threshold": 0.5,
            "n_columns": len(columns),
            "n_drifted": n_drifted,
            "reference_rows": 100_000,
            "current_rows": 95_000,
            "rule": "A numeric column drifts when KS p < 0.05 and Wasserstein/std >= 0.1.",
            "prediction": prediction,
        },
        "columns": columns,
        "meta": {"created": "2026-11-28T05:30:00Z", "loopml_version": "0.9.0"},
    }


@pytest.fixture
def full_report() -> dict[str, Any]:
    columns = {
        "income": numeric(drift=False, effect=0.03, bins=10),
        "age": numeric(drift=True, effect=0.21, bins=20),
        "city": categorical(
            drift=True, categories=["Paris", "Berlin", "Rome", "Atlantis & <Co>"], new=["Atlantis & <Co>"]
        ),
        "is_member": categorical(drift=False, categories=["True", "False"], new=[], kind="boolean"),
        "signup": skipped("datetime column"),
        "tenure": numeric(
            drift=False, effect=0.08, missing={"reference": 0.01, "current": 0.2, "changed": True}
        ),
        HOSTILE: numeric(drift=False, effect=0.01, reason='value "<b>" & more'),
    }
    return make_report(columns, prediction=numeric(drift=True, effect=0.15, bins=12))


class _Checker(HTMLParser):
    """Collects summary rows and checks that every end tag closes the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.rows: list[list[str]] = []
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "href" in values:
            self.hrefs.append(values["href"] or "")
        if "id" in values:
            self.ids.append(values["id"] or "")
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def check(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def charts(page: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]


def bars(svg: ET.Element, side: str) -> list[ET.Element]:
    return [r for r in svg.iter("rect") if r.get("class") == f"bar {side}"]


def test_summary_has_one_row_per_column_with_its_verdict(full_report: dict[str, Any]) -> None:
    rows = check(render_html(full_report)).rows
    verdicts = {row[0]: row[7] for row in rows}
    assert verdicts == {
        "age": "drift",
        "city": "drift",
        "income": "ok",
        "is_member": "ok",
        "tenure": "ok",
        HOSTILE: "ok",
        "signup": "skipped",
    }


def test_drifted_rows_come_first_then_by_effect_descending(full_report: dict[str, Any]) -> None:
    names = [row[0] for row in check(render_html(full_report)).rows]
    assert names == ["city", "age", "tenure", "income", "is_member", HOSTILE, "signup"]


def test_each_summary_name_links_to_its_column_section(full_report: dict[str, Any]) -> None:
    checker = check(render_html(full_report))
    column_links = [h for h in checker.hrefs if h.startswith("#col-")]
    assert len(column_links) == len(full_report["columns"])
    assert {h[1:] for h in column_links} <= set(checker.ids)


def test_one_chart_per_compared_column_with_one_bar_per_side_and_bin(full_report: dict[str, Any]) -> None:
    by_column = {svg.get("data-column"): svg for svg in charts(render_html(full_report))}
    # six compared columns + the prediction; the skipped datetime column has none
    assert set(by_column) == {"age", "income", "city", "is_member", "tenure", HOSTILE, "prediction"}
    expected = {"age": 20, "income": 10, "city": 4, "is_member": 2, "tenure": 4, HOSTILE: 4, "prediction": 12}
    for name, count in expected.items():
        assert len(bars(by_column[name], "ref")) == count, name
        assert len(bars(by_column[name], "cur")) == count, name
    assert "histogram" in by_column["age"].get("class", "")
    assert "categories" in by_column["city"].get("class", "")


def test_bars_carry_exact_values_and_category_labels(full_report: dict[str, Any]) -> None:
    by_column = {svg.get("data-column"): svg for svg in charts(render_html(full_report))}
    first = bars(by_column["age"], "cur")[0].findtext("title") or ""
    assert "current 0.5 (50%)" in first
    assert "[0, 1234.57)" in first
    city = by_column["city"]
    labels = "".join(city.itertext())
    assert "Atlantis & <Co>" in labels  # the text, unescaped by the XML parser
    assert "(new in current)" in labels


def test_skipped_column_shows_its_reason_and_no_chart(full_report: dict[str, Any]) -> None:
    page = render_html(full_report)
    section = re.search(r'<article class="card v-skipped".*?</article>', page, flags=re.S)
    assert section is not None
    assert "Skipped: datetime column" in section.group(0)
    assert "<svg" not in section.group(0)


def test_hostile_names_are_escaped_never_raw_markup(full_report: dict[str, Any]) -> None:
    page = render_html(full_report)
    assert HOSTILE not in page
    assert "&lt;script&gt;&amp;&quot;x&quot;" in page
    assert page.count("<script") == 1  # only the report's own sorting script
    assert 'value "<b>"' not in page
    assert "&quot;&lt;b&gt;&quot; &amp; more" in page
    assert "Atlantis &amp; &lt;Co&gt;" in page


def test_control_characters_in_names_keep_the_charts_parseable() -> None:
    report = make_report({"a\x00b\x1fc": numeric(drift=False, effect=0.0)})
    [svg] = charts(render_html(report))
    assert svg.get("data-column") == "a\ufffdb\ufffdc"


def test_page_is_self_contained(full_report: dict[str, Any]) -> None:
    page = render_html(full_report)
    checker = check(page)
    assert not re.search(r"https?://|//[a-z]", page, flags=re.I)
    assert "url(" not in page
    assert "@import" not in page
    assert not re.search(r"\ssrc=", page)
    assert checker.hrefs
    assert all(href.startswith("#") for href in checker.hrefs)


def test_header_states_the_verdict_in_words(full_report: dict[str, Any]) -> None:
    page = render_html(full_report)
    assert "No dataset drift" in page
    assert "2 of 7 columns drifted: 28.6% of columns, below the 50% threshold. 1 skipped." in page
    assert "100,000" in page
    assert "95,000" in page
    assert "2026-11-28 05:30 UTC" in page
    assert "Wasserstein/std &gt;= 0.1." in page

    drifted = make_report({"a": numeric(drift=True, effect=0.3), "b": numeric(drift=False, effect=0.0)})
    page = render_html(drifted)
    assert "Dataset drift detected" in page
    assert "1 of 2 columns drifted: 50% of columns, at or above the 50% threshold." in page


def test_prediction_section_appears_only_with_a_prediction(full_report: dict[str, Any]) -> None:
    page = render_html(full_report)
    assert "Prediction drift" in page
    assert 'id="prediction"' in page
    assert 'href="#prediction"' in page

    without = make_report({"a": numeric(drift=False, effect=0.0)})
    page = render_html(without)
    assert "Prediction drift" not in page
    assert 'id="prediction"' not in page


def test_missing_change_is_marked_and_new_categories_counted(full_report: dict[str, Any]) -> None:
    rows = {row[0]: row for row in check(render_html(full_report)).rows}
    assert rows["tenure"][8] == "1% → 20% ⚠"
    assert rows["income"][8] == "0% → 1%"
    assert rows["city"][9] == "1"
    assert rows["income"][9] == ""


def test_missing_and_nan_values_render_as_a_dash() -> None:
    entry = numeric(drift=False, effect=float("nan"), statistic=None, p_value=float("nan"))
    entry["distribution"]["current"] = [None, float("nan"), 0.5, 0.5]
    no_effect = numeric(drift=False, effect=0.0, missing=None, kind=None)
    no_effect["effect"] = None
    report = make_report({"x": entry, "y": no_effect})
    rows = {row[0]: row for row in check(render_html(report)).rows}
    assert rows["x"][3] == "—"
    assert rows["x"][4] == "—"
    assert rows["x"][6] == "wasserstein — / 0.1"
    assert rows["y"][6] == "—"
    assert rows["y"][8] == "—"
    svg = next(s for s in charts(render_html(report)) if s.get("data-column") == "x")
    assert "current —" in (bars(svg, "cur")[0].findtext("title") or "")


def test_empty_report_renders() -> None:
    page = render_html(make_report({}))
    checker = check(page)
    assert "No columns were compared." in page
    assert "0 of 0 columns drifted" in page
    assert charts(page) == []
    assert checker.rows == [["No columns were compared."]]


def test_a_minimal_dict_renders() -> None:
    page = render_html({"columns": {"a": {"kind": "numeric"}}})
    rows = check(page).rows
    assert rows[0][0] == "a"
    assert "No distribution recorded." in page


def test_title_is_used_for_the_page() -> None:
    page = render_html(make_report({}), title="Churn model <prod>")
    assert "<title>Churn model &lt;prod&gt;</title>" in page


def test_many_categories_are_capped_to_the_largest() -> None:
    categories = [f"c{i}" for i in range(50)]
    entry = categorical(drift=False, categories=categories, new=[])
    entry["distribution"]["current"] = [0.5 if i == 49 else 0.01 for i in range(50)]
    [svg] = charts(render_html(make_report({"many": entry})))
    assert len(bars(svg, "ref")) == 30
    labels = "".join(svg.itertext())
    assert "c49" in labels  # the largest current category is kept although it comes last
    assert "20 smaller categories not drawn" in labels


def test_long_category_labels_are_truncated_with_the_full_text_in_a_tooltip() -> None:
    long = "a category label much longer than the space beside the chart"
    [svg] = charts(render_html(make_report({"c": categorical(drift=False, categories=[long, "b"], new=[])})))
    texts = [t.text or "" for t in svg.iter("text")]
    assert any(t.endswith("…") and long.startswith(t[:-1]) for t in texts)
    assert long not in texts
    assert any(title.text == long for title in svg.iter("title"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (0.0, "0"),
        (0.031234, "0.0312"),
        (1.2e-5, "1.2e-05"),
        (12345.678, "12.3k"),
        (999_999.0, "1M"),
        (1_500_000, "1.5M"),
        (42, "42"),
        (-3.14159, "-3.14"),
        (float("inf"), "∞"),
    ],
)
def test_numbers_are_compact(value: Any, expected: str) -> None:
    assert fmt_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "—"), (0.0, "0%"), (0.0004, "<0.1%"), (0.5, "50%"), (0.1234, "12.3%")]
)
def test_shares_are_percentages(value: Any, expected: str) -> None:
    assert fmt_share(value) == expected
