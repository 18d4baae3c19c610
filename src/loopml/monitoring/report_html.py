"""The drift report as one self-contained HTML page.

``render_html(report.to_dict())`` returns the page: a plain-words verdict, a summary table (one
row per column, drifted first, click a header to sort), then one section per column with its
numbers and an inline SVG chart of the reference and current distributions. CSS is inline, the
charts are drawn here (see ``report_svg``), nothing is fetched, and the few lines of script only
add sorting: the page reads the same with JavaScript off and prints cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .report_svg import MISSING, categories_svg, finite, fmt_number, fmt_share, histogram_svg, text

_CSS = """
:root{--ink:#1f2430;--muted:#5d6675;--line:#e3e6eb;--bg:#f6f7f9;--drift:#b42318;--drift-bg:#fee4e2;
--ok:#067647;--ok-bg:#dcfae6;--skip:#5d6675;--skip-bg:#eef0f3;--ref:#6f8fb0;--cur:#f08a24}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.45;font-size:14px;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main,header.top,footer{max-width:1180px;margin:0 auto;padding:0 24px}
header.top{padding-top:28px}
.verdict{background:#fff;border:1px solid var(--line);border-left:8px solid var(--ok);border-radius:8px;
padding:18px 22px}
.verdict.v-drift{border-left-color:var(--drift)}
.eyebrow{margin:0;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
h1{margin:2px 0 4px;font-size:26px}
.v-drift h1{color:var(--drift)}.v-ok h1{color:var(--ok)}
.lead{margin:0 0 12px;font-size:16px}
.share{position:relative;height:10px;background:var(--line);border-radius:5px;max-width:520px;margin:0 0 4px}
.share .fill{position:absolute;left:0;top:0;bottom:0;background:var(--ref);border-radius:5px}
.v-drift .share .fill{background:var(--drift)}
a.badge{text-decoration:none}
.share .mark{position:absolute;top:-4px;bottom:-4px;width:2px;background:var(--ink)}
.share-legend{font-size:12px;color:var(--muted);margin:0 0 12px}
.facts{display:flex;flex-wrap:wrap;gap:4px 28px;margin:0}
.facts div{min-width:0}.facts dt{font-size:12px;color:var(--muted)}.facts dd{margin:0;font-weight:600}
.rule{margin:12px 0 0;color:var(--muted);font-size:13px}
h2{font-size:18px;margin:28px 0 10px}
.summary-head{display:flex;align-items:baseline;justify-content:space-between;gap:16px}
.toggle{font-size:13px;border:1px solid var(--line);background:#fff;border-radius:14px;padding:3px 12px;
cursor:pointer;user-select:none}
.toggle::before{content:"\\2610  "}
#only-drifted:checked~.summary .toggle{background:var(--drift-bg);border-color:var(--drift)}
#only-drifted:checked~.summary .toggle::before{content:"\\2611  "}
#only-drifted:focus-visible~.summary .toggle{outline:2px solid var(--ink)}
#only-drifted:checked~.summary tbody tr:not(.v-drift),#only-drifted:checked~.columns .card:not(.v-drift)
{display:none}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
table{width:100%;border-collapse:separate;border-spacing:0;background:#fff;border:1px solid var(--line);
border-radius:8px;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;text-align:left;border-bottom:1px solid var(--line);vertical-align:baseline}
th{position:sticky;top:0;background:#fafbfc;font-size:12px;color:var(--muted);font-weight:600;z-index:1}
th,td.effect,td.missing{white-space:nowrap}th.wrap{white-space:normal}td.name{min-width:9em}
.js th[data-type]{cursor:pointer}.js th[data-type]:hover{color:var(--ink)}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover{background:#fafbfc}
td.name a{color:var(--ink);font-weight:600;text-decoration:none;overflow-wrap:anywhere}
td.name a:hover{text-decoration:underline}
.muted{color:var(--muted)}
.badge{display:inline-block;font-size:12px;font-weight:600;border-radius:10px;padding:1px 9px}
.badge.drift{background:var(--drift-bg);color:var(--drift)}.badge.ok{background:var(--ok-bg);color:var(--ok)}
.badge.skipped{background:var(--skip-bg);color:var(--skip)}
.kind{font-size:12px;color:var(--muted)}
.meter{position:relative;display:inline-block;width:56px;height:6px;background:var(--line);
border-radius:3px;margin-left:6px;vertical-align:middle}
.meter .fill{position:absolute;left:0;top:0;bottom:0;background:var(--ref);border-radius:3px}
.meter.over .fill{background:var(--drift)}
.meter .mark{position:absolute;left:33.3%;top:-3px;bottom:-3px;width:1px;background:var(--ink)}
.warn{color:var(--drift);font-weight:700}
.card{background:#fff;border:1px solid var(--line);border-left:4px solid var(--ok);border-radius:8px;
padding:14px 18px;margin:0 0 14px;display:grid;grid-template-columns:minmax(240px,1fr) auto;gap:8px 24px}
.card.v-drift{border-left-color:var(--drift)}.card.v-skipped{border-left-color:#c4c9d1}
.card>header{grid-column:1/-1;display:flex;align-items:baseline;gap:10px;flex-wrap:wrap}
.card h3{margin:0;font-size:16px;word-break:break-word}
.card .back{margin-left:auto;font-size:12px;color:var(--muted)}
.reason{margin:0 0 8px}
.stats{display:grid;grid-template-columns:auto 1fr;gap:3px 14px;margin:0;font-size:13px;
font-variant-numeric:tabular-nums}
.stats dt{color:var(--muted)}.stats dd{margin:0;word-break:break-word}
.chart{max-width:100%;height:auto;display:block}
.nochart{color:var(--muted);font-style:italic;align-self:center}
.empty{color:var(--muted);text-align:center;padding:18px}
footer{color:var(--muted);font-size:12px;padding-top:8px;padding-bottom:28px}
@media (max-width:900px){.card{grid-template-columns:1fr}.meter{display:none}}
@media print{body{background:#fff;font-size:12px}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
th{position:static}th,td{padding:3px 5px}table,th,td.kind,td .badge{font-size:10px}
td.name{min-width:8em}.meter,.toggle,.back{display:none}.card,tr{break-inside:avoid}
main,header.top,footer{max-width:none;padding:0}}
"""

# Click a summary header to sort by it (the cells carry the raw value in data-v); optional.
_SORT_JS = """
document.documentElement.classList.add("js");
document.querySelectorAll("table.summary-table th[data-type]").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], col = th.cellIndex, num = th.dataset.type === "num";
    var asc = th.getAttribute("aria-sort") !== "ascending", key = function (row) {
      var v = row.cells[col].dataset.v || ""; return num ? (v === "" ? NaN : +v) : v.toLowerCase(); };
    var rows = Array.from(body.rows).filter(function (r) { return r.cells.length > col; });
    rows.sort(function (a, b) { var x = key(a), y = key(b);
      if (num && isNaN(x) !== isNaN(y)) return isNaN(x) ? 1 : -1;
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_VERDICT_RANK = {"drift": 0, "ok": 1, "n/a": 2, "skipped": 3}


def render_html(report: Mapping[str, Any], *, title: str | None = None) -> str:
    """The drift report ``report`` (a ``DriftReport.to_dict()``) as one self-contained HTML page."""
    dataset: Mapping[str, Any] = report.get("dataset") or {}
    meta: Mapping[str, Any] = report.get("meta") or {}
    columns: Mapping[str, Any] = report.get("columns") or {}
    title = title or "Drift report"
    ordered = _ordered(columns)
    prediction = dataset.get("prediction")
    body = [
        _header(dataset, meta, ordered, title),
        "<main>",
        '<input type="checkbox" id="only-drifted" class="sr-only">',
    ]
    if isinstance(prediction, Mapping):
        name = str(prediction.get("name") or "prediction")
        body.append('<section class="columns prediction"><h2>Prediction drift</h2>')
        body.append(_card("prediction", name, prediction))
        body.append("</section>")
    body.append(_summary(ordered))
    body.append('<section class="columns"><h2>Columns</h2>')
    body.extend(_card(anchor, name, entry) for anchor, name, entry in ordered)
    body.append("</section></main>")
    version = meta.get("loopml_version")
    body.append(f"<footer>Generated by loopml{' ' + text(version) if version else ''}.</footer>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + f"<script>{_SORT_JS}</script></body></html>\n"
    )


def _verdict(entry: Mapping[str, Any]) -> str:
    if entry.get("skipped"):
        return "skipped"
    detected = entry.get("drift_detected")
    return "drift" if detected is True else "ok" if detected is False else "n/a"


def _effect_value(entry: Mapping[str, Any]) -> float | None:
    effect = entry.get("effect")
    if isinstance(effect, Mapping):
        return finite(effect.get("value"))
    return finite(entry.get("statistic")) if entry.get("p_value") is None else None


def _ordered(columns: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(anchor, name, entry) with drifted columns first, then by effect size, largest first."""
    rows = [
        (f"col-{i}", str(name), entry if isinstance(entry, Mapping) else {})
        for i, (name, entry) in enumerate(columns.items())
    ]

    def key(row: tuple[str, str, Mapping[str, Any]]) -> tuple[int, int, float, str]:
        value = _effect_value(row[2])
        return (_VERDICT_RANK[_verdict(row[2])], value is None, -(value or 0.0), row[1])

    return sorted(rows, key=key)


def _created(value: Any) -> str:
    if not value:
        return MISSING
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    zone = " UTC" if stamp.utcoffset() is not None and not stamp.utcoffset() else ""
    return stamp.strftime("%Y-%m-%d %H:%M") + zone


def _header(
    dataset: Mapping[str, Any],
    meta: Mapping[str, Any],
    ordered: list[tuple[str, str, Mapping[str, Any]]],
    title: str,
) -> str:
    detected = dataset.get("drift_detected") is True
    n_columns = dataset.get("n_columns", len(ordered))
    n_drifted = dataset.get("n_drifted", sum(_verdict(e) == "drift" for _, _, e in ordered))
    share, threshold = finite(dataset.get("drift_share")), finite(dataset.get("drift_share_threshold"))
    n_skipped = sum(_verdict(e) == "skipped" for _, _, e in ordered)
    compare = "at or above" if detected else "below"
    lead = f"{fmt_number(n_drifted)} of {fmt_number(n_columns)} columns drifted"
    if share is not None:
        lead += f": {fmt_share(share)} of columns, {compare} the {fmt_share(threshold)} threshold"
    lead += "." + (f" {n_skipped} skipped." if n_skipped else "")
    facts = [
        ("Reference rows", fmt_number(dataset.get("reference_rows"))),
        ("Current rows", fmt_number(dataset.get("current_rows"))),
        ("Created", _created(meta.get("created"))),
    ]
    facts += [
        (label, str(meta.get(key) or ""))
        for key, label in (("reference", "Reference"), ("current", "Current"))
    ]
    fill = min(max(share or 0.0, 0.0), 1.0) * 100
    mark = min(max(threshold if threshold is not None else 0.5, 0.0), 1.0) * 100
    prediction = dataset.get("prediction")
    pred_fact = ""
    if isinstance(prediction, Mapping):
        verdict = _verdict(prediction)
        pred_fact = (
            "<div><dt>Prediction</dt><dd>"
            f'<a href="#prediction" class="badge {verdict}">{verdict}</a></dd></div>'
        )
    return (
        f'<header class="top"><div class="verdict v-{"drift" if detected else "ok"}">'
        f'<p class="eyebrow">{text(title)}</p>'
        f"<h1>{'Dataset drift detected' if detected else 'No dataset drift'}</h1>"
        f'<p class="lead">{text(lead)}</p>'
        f'<div class="share" title="drifted share {text(fmt_share(share))}, threshold '
        f'{text(fmt_share(threshold))}"><span class="fill" style="width:{fill:.1f}%"></span>'
        f'<span class="mark" style="left:{mark:.1f}%"></span></div>'
        f'<p class="share-legend">bar: share of drifted columns; tick: threshold</p>'
        '<dl class="facts">'
        + "".join(f"<div><dt>{text(k)}</dt><dd>{text(v)}</dd></div>" for k, v in facts if v)
        + pred_fact
        + f'</dl><p class="rule">{text(dataset.get("rule") or "")}</p></div></header>'
    )


_HEADERS = (
    ("Column", "text", ""),
    ("Kind", "text", ""),
    ("Test", "text", ""),
    ("Statistic", "num", "num"),
    ("p-value", "num", "num"),
    ("Threshold", "num", "num"),
    ("Effect", "num", ""),
    ("Verdict", "num", ""),
    ("Missing ref → cur", "num", "wrap"),
    ("New categories", "num", "num wrap"),
)


def _summary(ordered: list[tuple[str, str, Mapping[str, Any]]]) -> str:
    head = "".join(
        f'<th scope="col" data-type="{kind}" class="{cls}">{text(label)}</th>'
        for label, kind, cls in _HEADERS
    )
    rows = [_row(anchor, name, entry) for anchor, name, entry in ordered]
    if not rows:
        rows = [f'<tr><td class="empty" colspan="{len(_HEADERS)}">No columns were compared.</td></tr>']
    return (
        '<section class="summary" id="summary"><div class="summary-head"><h2>Summary</h2>'
        '<label for="only-drifted" class="toggle">drifted only</label></div>'
        f'<table class="summary-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></section>"
    )


def _v(value: Any) -> str:
    number = finite(value)
    return "" if number is None else repr(number)


def _effect_cell(effect: Any) -> str:
    if not isinstance(effect, Mapping):
        return f'<td class="effect" data-v="">{MISSING}</td>'
    value, threshold = finite(effect.get("value")), finite(effect.get("threshold"))
    meter = ""
    if value is not None and threshold:
        ratio = value / threshold
        width = min(max(ratio / 3, 0.0), 1.0) * 100
        meter = (
            f'<span class="meter{" over" if ratio >= 1 else ""}" aria-hidden="true">'
            f'<span class="fill" style="width:{width:.0f}%"></span><span class="mark"></span></span>'
        )
    name = text(effect.get("name") or "")
    return (
        f'<td class="effect" data-v="{_v(value)}" title="{name} {text(fmt_number(value, 6))}'
        f' (threshold {text(fmt_number(threshold))})"><span class="muted">{name}'
        f"</span> <b>{text(fmt_number(value))}</b>"
        f' <span class="muted">/ {text(fmt_number(threshold))}</span>{meter}</td>'
    )


def _missing_cell(missing: Any) -> str:
    if not isinstance(missing, Mapping):
        return f'<td class="missing" data-v="">{MISSING}</td>'
    flag = ""
    if missing.get("changed"):
        flag = ' <span class="warn" title="missing share changed">⚠</span>'
    return (
        f'<td class="missing" data-v="{_v(missing.get("current"))}">'
        f"{text(fmt_share(missing.get('reference')))} → {text(fmt_share(missing.get('current')))}{flag}</td>"
    )


def _new_categories(entry: Mapping[str, Any]) -> list[str]:
    new = entry.get("new_categories")
    return [str(c) for c in new] if isinstance(new, list | tuple) else []


def _row(anchor: str, name: str, entry: Mapping[str, Any]) -> str:
    verdict = _verdict(entry)
    new = _new_categories(entry)
    new_title = f' title="{text(", ".join(new[:20]) + (" …" if len(new) > 20 else ""))}"' if new else ""
    p_value, statistic, threshold = entry.get("p_value"), entry.get("statistic"), entry.get("threshold")
    return (
        f'<tr class="v-{verdict}">'
        f'<td class="name" data-v="{text(name)}"><a href="#{anchor}">{text(name)}</a></td>'
        f'<td class="kind" data-v="{text(entry.get("kind") or "")}">{text(entry.get("kind") or MISSING)}</td>'
        f'<td data-v="{text(entry.get("test") or "")}">{text(entry.get("test") or MISSING)}</td>'
        f'<td class="num" data-v="{_v(statistic)}">{text(fmt_number(statistic))}</td>'
        f'<td class="num" data-v="{_v(p_value)}">{text(fmt_number(p_value))}</td>'
        f'<td class="num" data-v="{_v(threshold)}">{text(fmt_number(threshold))}</td>'
        + _effect_cell(entry.get("effect"))
        + f'<td data-v="{_VERDICT_RANK[verdict]}"><span class="badge {verdict}">{verdict}</span></td>'
        + _missing_cell(entry.get("missing"))
        + f'<td class="num" data-v="{len(new)}"{new_title}>{len(new) if new else ""}</td></tr>'
    )


def _stats(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    items = [("Test", str(entry.get("test") or MISSING)), ("Statistic", fmt_number(entry.get("statistic")))]
    if entry.get("p_value") is not None:
        items.append(("p-value", fmt_number(entry.get("p_value"))))
    items.append(("Threshold", fmt_number(entry.get("threshold"))))
    effect = entry.get("effect")
    if isinstance(effect, Mapping):
        items.append(
            (
                "Effect",
                f"{effect.get('name') or ''} {fmt_number(effect.get('value'))} "
                f"(threshold {fmt_number(effect.get('threshold'))})",
            )
        )
    scores = entry.get("scores")
    if isinstance(scores, Mapping) and scores:
        items.append(("Scores", " · ".join(f"{k} {fmt_number(v)}" for k, v in scores.items())))
    items.append(
        (
            "Non-missing",
            f"{fmt_number(entry.get('reference_count'))} ref / {fmt_number(entry.get('current_count'))} cur",
        )
    )
    missing = entry.get("missing")
    if isinstance(missing, Mapping):
        changed = " — changed" if missing.get("changed") else ""
        items.append(
            (
                "Missing",
                f"{fmt_share(missing.get('reference'))} → {fmt_share(missing.get('current'))}{changed}",
            )
        )
    new = _new_categories(entry)
    if new:
        shown = ", ".join(new[:12]) + (f" … (+{len(new) - 12} more)" if len(new) > 12 else "")
        items.append((f"New categories ({len(new)})", shown))
    return items


def _chart(name: str, entry: Mapping[str, Any]) -> str:
    dist = entry.get("distribution")
    if not isinstance(dist, Mapping):
        return '<p class="nochart">No distribution recorded.</p>'
    reference, current = dist.get("reference") or [], dist.get("current") or []
    if dist.get("type") == "histogram" and len(dist.get("edges") or []) >= 2:
        return histogram_svg(dist["edges"], reference, current, label=name)
    if dist.get("type") == "categories" and dist.get("categories"):
        new = frozenset(_new_categories(entry))
        return categories_svg(list(dist["categories"]), reference, current, label=name, new=new)
    return '<p class="nochart">No distribution recorded.</p>'


def _card(anchor: str, name: str, entry: Mapping[str, Any]) -> str:
    verdict = _verdict(entry)
    if verdict == "skipped":
        detail = f'<p class="reason">Skipped: {text(entry.get("skipped"))}</p>'
        chart = ""
    else:
        stats = "".join(f"<dt>{text(k)}</dt><dd>{text(v)}</dd>" for k, v in _stats(entry))
        reason = entry.get("reason")
        detail = (
            f'<p class="reason">{text(reason)}</p>' if reason else ""
        ) + f'<dl class="stats">{stats}</dl>'
        chart = _chart(name, entry)
    return (
        f'<article class="card v-{verdict}" id="{anchor}"><header><h3>{text(name)}</h3>'
        f'<span class="kind">{text(entry.get("kind") or "")}</span>'
        f'<span class="badge {verdict}">{verdict}</span>'
        f'<a class="back" href="#summary">↑ summary</a></header>'
        f"<div>{detail}</div>{chart}</article>"
    )
