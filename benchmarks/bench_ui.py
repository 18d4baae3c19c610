#!/usr/bin/env python3
"""Web UI benchmark: page loads of loopml's UI on 100,000 runs and a 1,000,000-point metric history.

Builds (or, with a kept ``--workdir``, reuses) an SQLite store with one experiment of 100,000
finished runs and one run with a 1,000,000-point history, starts a real ``loopml server`` on it
(127.0.0.1, a free port) and loads its pages in Debian's Chromium, headless, driven by
Playwright (see README.md):

  experiments_list    /ui/experiments
  runs_table          /ui/experiments/{id}: the 100,000-run table, its first page
  runs_table_sorted   the same sorted by a metric (``--sort-query``)
  history_run         /ui/runs/{id} of the 1,000,000-point run, until its chart is on screen (its
                      first drawing, SVG) and then interactive (plotly)

Per page and repeat: a fresh browser context (empty cache), the cold load, then the warm load
in a new tab of that context (plotly.min.js and the CSS/JS cached), then the hot one (a third
tab: V8's code cache too). Measured: first paint, first contentful paint, DOMContentLoaded,
load, the time to the first byte and to the end of the HTML, the chart drawn (run page: its
first drawing and plotly's interactive chart), bytes
transferred; and the HTML's time over plain HTTP.

Prints one JSON object on stdout (progress on stderr): medians per page and phase, and a
pass/fail per target. Usage::

  .venv/bin/python benchmarks/bench_ui.py                    # full run (~6 min, half of it the data)
  .venv/bin/python benchmarks/bench_ui.py --quick            # smoke run: 2,000 runs, 100,000 points
  .venv/bin/python benchmarks/bench_ui.py --workdir /tmp/ui  # keep the data: later runs reuse it
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import _common as c
import _harness as h
import _ui_workloads as uw
from _common import pc
from _harness import get
from bench_server import free_port, start_server, stop_server

WHO = uw.WHO
HERE = Path(__file__).resolve().parent
PAGES_DIR = HERE.parent / "src" / "loopml" / "server" / "ui" / "pages"
MARKER = ".bench_ui"
SORT_QUERY = "order=" + quote("metrics.m1 DESC")  # RunsQuery of pages/experiments.py
CHART_SELECTOR = ".js-plotly-plot .scatterlayer .trace"
FIRST_DRAWING_SELECTOR = ".chart-card svg.chart-preview polyline"
# the figures whose medians are reported (per phase: cold, warm, hot)
FIGURES = (
    "first_paint_ms",
    "fcp_ms",
    "dom_content_loaded_ms",
    "load_ms",
    "ttfb_ms",
    "html_ms",
    "chart_dom_ms",
    "chart_ms",
    "first_drawing_ms",
    "goto_s",
    "wire_bytes",
    "transfer_bytes",
    "decoded_bytes",
    "html_bytes",
    "requests",
    "from_cache",
    "rows",
)


# what a load reports besides its figures (kept for the first load and in the samples)
DIAGNOSTICS = ("chart_error", "js_errors", "chart_points", "expect_found")


# ----------------------------------------------------------------------------------------
# The data, the server and the pages.
# ----------------------------------------------------------------------------------------


def prepare_data(args: argparse.Namespace, sizes: dict[str, Any]) -> dict[str, Any]:
    """The data of ``sizes`` in WORKDIR/data: reused when built there before, else built."""
    data_dir = args.workdir / "data"
    found = uw.reusable_data(data_dir, sizes)
    if found is not None:
        c.log(WHO, f"reusing the data in {data_dir}")
        return found | {"reused": True}
    h.prepare_dir(data_dir, MARKER)
    t = pc()
    data = uw.build_data(data_dir, sizes)
    c.log(WHO, f"data built in {pc() - t:.0f} s ({data['db_bytes'] / 1e6:.0f} MB)")
    return data | {"reused": False, "build_s": pc() - t}


def server_command(data: dict[str, Any], port: int) -> list[str]:
    artifacts = Path(data["store_uri"].removeprefix("sqlite:///")).parent / "artifacts"
    return [
        sys.executable,
        "-m",
        "loopml",
        "server",
        "--backend-store-uri",
        data["store_uri"],
        "--artifacts-destination",
        str(artifacts),
        "--no-access-log",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def page_specs(base: str, data: dict[str, Any], args: argparse.Namespace) -> list[uw.PageSpec]:
    exp = data["experiment_id"]
    return [
        uw.PageSpec(
            "experiments_list", f"{base}/ui/experiments", expect_text=f"bench-ui-{data['sizes']['runs']}"
        ),
        uw.PageSpec("runs_table", f"{base}/ui/experiments/{exp}", expect_text=data["newest_run"]),
        uw.PageSpec(
            "runs_table_sorted",
            f"{base}/ui/experiments/{exp}?{args.sort_query}",
            expect_text=data["top_m1_run"],
        ),
        uw.PageSpec(
            "history_run",
            f"{base}/ui/runs/{data['history_run_id']}",
            chart_selector=args.chart_selector,
            first_drawing_selector=args.first_drawing_selector,
            expect_text=f"{data['sizes']['history_points']:,}",
        ),
    ]


def probe(spec: uw.PageSpec, repeats: int) -> dict[str, Any]:
    """The HTML over plain HTTP, ``repeats`` times: status, bytes, seconds (median). A 404 means
    the page is not written yet (``missing``)."""
    samples, status, size = [], 0, 0
    for _ in range(repeats):
        status, size, secs = uw.http_get(spec.url)
        samples.append(secs)
        if status != 200:
            break
    state = "ok" if status == 200 else "missing" if status == 404 else "error"
    return {"status": state, "http_status": status, "html_bytes": size, "server_html_s": c.stats(samples)}


# ----------------------------------------------------------------------------------------
# Measuring: per repeat, every page cold, warm and hot (pages interleaved).
# ----------------------------------------------------------------------------------------


def measure(
    specs: list[uw.PageSpec], args: argparse.Namespace, errors: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Probe every page, load the ones that exist (:func:`load_all`); then, with a chart page,
    run plotly.min.js alone. The pages' raw loads, and the reference figures."""
    pages: dict[str, Any] = {}
    reference: dict[str, Any] = {}
    for spec in specs:
        pages[spec.name] = {"url": spec.url, **probe(spec, args.repeats)}
        c.log(WHO, f"{spec.name}: HTTP {pages[spec.name]['http_status']} ({pages[spec.name]['status']})")
        if pages[spec.name]["status"] == "error":
            errors.append(f"{spec.name}: {spec.url} answered HTTP {pages[spec.name]['http_status']}")
    live = [s for s in specs if pages[s.name]["status"] == "ok"]
    if not live:
        return pages, reference
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        errors.append(f"playwright is not installed: {exc}")
        return pages, reference
    with sync_playwright() as playwright:
        try:
            browser = uw.launch(playwright)
        except PlaywrightError as exc:
            errors.append(f"cannot start {uw.CHROMIUM}: {exc}"[:500])
            return pages, reference
        try:
            load_all(browser, live, pages, args, errors)
            if any(s.chart_selector for s in live):
                reference["plotly_eval_ms"] = uw.plotly_eval_ms(browser, args.repeats)
        finally:
            browser.close()
    return pages, reference


def load_all(
    browser: Any, live: list[uw.PageSpec], pages: dict[str, Any], args: argparse.Namespace, errors: list[str]
) -> None:
    """One cold load of each page after the server's start (``first_load``), then per repeat,
    pages interleaved, the cold, warm and hot loads of each in a fresh context (``loads``)."""
    from playwright.sync_api import Error as PlaywrightError

    for spec in live:
        pages[spec.name]["loads"] = []
        try:
            first = uw.loads_in_fresh_context(browser, spec, args.load_timeout, ("cold",))
            pages[spec.name]["first_load"] = first["cold"]
        except PlaywrightError as exc:
            errors.append(f"{spec.name} first load: {exc}"[:500])
    for rep in range(1, args.repeats + 1):
        for spec in live:
            try:
                pages[spec.name]["loads"].append(uw.loads_in_fresh_context(browser, spec, args.load_timeout))
            except PlaywrightError as exc:
                errors.append(f"{spec.name} r{rep}: {exc}"[:500])
        c.log(WHO, f"repeat {rep}/{args.repeats} done")


def medians(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the loads (None when no load has it)."""
    out: dict[str, Any] = {}
    for key in FIGURES:
        xs = [x[key] for x in loads if isinstance(x.get(key), int | float)]
        out[key] = statistics.median(xs) if xs else None
    return out


# the figures of every load kept in the report's samples
SAMPLED = ("fcp_ms", "first_drawing_ms", "chart_ms", "wire_bytes", *DIAGNOSTICS)
# checks reported with a page but not required for its targets
INFORMATIVE = ("newest_run_shown", "total_points_shown", "chart_points", "no_js_errors")


def page_checks(name: str, loads: list[dict[str, Any]]) -> dict[str, Any]:
    """What every load of the page must show: HTTP 200, table rows, the experiment (list), the
    run with the highest m1 (sorted table), a drawn chart (run page); and, reported only, the
    newest run (default order), the history's point count, uncaught JavaScript errors."""
    out: dict[str, Any] = {"status_200": bool(loads) and all(x["status"] == 200 for x in loads)}
    found = all(x["expect_found"] for x in loads)
    if name.startswith("runs_table"):
        out["rows_shown"] = all((x["rows"] or 0) > 0 for x in loads)
    if name in ("experiments_list", "runs_table_sorted"):
        out["expected_run_or_experiment_shown"] = found
    if name == "runs_table":
        out["newest_run_shown"] = found
    if name == "history_run":
        out["chart_drawn"] = all(x["chart_ms"] is not None for x in loads)
        out["first_drawing_drawn"] = all(x["first_drawing_ms"] is not None for x in loads)
        out["chart_points"] = loads[0]["chart_points"] if loads else None
        out["total_points_shown"] = found
    out["no_js_errors"] = not any(x["js_errors"] for x in loads)
    out["ok"] = all(v is True for k, v in out.items() if k not in INFORMATIVE)
    return out


def summarize(pages: dict[str, Any]) -> dict[str, Any]:
    """Per page: status, medians per phase (cold, warm, hot), the checks, the first repeat's
    resources, the samples."""
    out: dict[str, Any] = {}
    for name, page in pages.items():
        loads = page.pop("loads", None)
        first = page.pop("first_load", None)
        if not loads:
            missing = page["status"] == "missing"
            out[name] = page | (
                {"note": "not found (HTTP 404): the page is not written yet"} if missing else {}
            )
            continue
        by_phase = {phase: [x[phase] for x in loads] for phase in uw.PHASES}
        out[name] = page | {phase: medians(xs) for phase, xs in by_phase.items()}
        out[name] |= {
            "first_load": {k: first.get(k) for k in (*FIGURES, *DIAGNOSTICS)} if first else None,
            "checks": page_checks(name, [x for xs in by_phase.values() for x in xs]),
            "resources_cold": by_phase["cold"][0]["resources"],
            "resources_warm": by_phase["warm"][0]["resources"],
            "samples": {phase: {k: [x[k] for x in xs] for k in SAMPLED} for phase, xs in by_phase.items()},
        }
    return out


# ----------------------------------------------------------------------------------------
# Report: targets, reported figures, meta.
# ----------------------------------------------------------------------------------------

# name, what, kind, threshold, figure path (kinds: see _harness.MEETS)
TARGETS: tuple[h.Target, ...] = (
    (
        "runs_table_fcp_cold",
        "100,000-run table (first page): first contentful paint under 1 s, cold (empty cache)",
        "under",
        1000.0,
        ("runs_table", "cold", "fcp_ms"),
    ),
    (
        "runs_table_fcp_warm",
        "100,000-run table (first page): first contentful paint under 1 s, warm (cached assets)",
        "under",
        1000.0,
        ("runs_table", "warm", "fcp_ms"),
    ),
    (
        "history_chart_warm",
        "run page of the 1,000,000-point history: chart on screen under 1 s, warm (its first "
        "drawing, SVG of the downsampled history; plotly's interactive chart replaces it: reported)",
        "under",
        1000.0,
        ("history_run", "warm", "first_drawing_ms"),
    ),
)

# figures shown next to the targets, not judged: name, what, path
REPORTED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "history_chart_cold",
        "1,000,000-point run page: chart on screen (first drawing), cold (ms)",
        ("history_run", "cold", "first_drawing_ms"),
    ),
    (
        "history_interactive_cold",
        "1,000,000-point run page: plotly's interactive chart drawn, cold (ms)",
        ("history_run", "cold", "chart_ms"),
    ),
    (
        "history_interactive_warm",
        "1,000,000-point run page: plotly's interactive chart drawn, warm (ms)",
        ("history_run", "warm", "chart_ms"),
    ),
    (
        "history_interactive_hot",
        "1,000,000-point run page: plotly's interactive chart drawn, hot (third load: V8's code cache "
        "of plotly.min.js) (ms)",
        ("history_run", "hot", "chart_ms"),
    ),
    (
        "runs_table_sorted_fcp_cold",
        "table sorted by a metric: FCP, cold (ms)",
        ("runs_table_sorted", "cold", "fcp_ms"),
    ),
    (
        "runs_table_sorted_fcp_warm",
        "table sorted by a metric: FCP, warm (ms)",
        ("runs_table_sorted", "warm", "fcp_ms"),
    ),
    ("experiments_list_fcp_cold", "experiments list: FCP, cold (ms)", ("experiments_list", "cold", "fcp_ms")),
    ("experiments_list_fcp_warm", "experiments list: FCP, warm (ms)", ("experiments_list", "warm", "fcp_ms")),
)


def bytes_per_page(pages: dict[str, Any]) -> dict[str, Any]:
    """Bytes on the wire and decoded, cold and warm (hot: as warm), and the HTML's size, per page."""
    return {
        name: {
            f"{phase}_{kind}": get(page, phase, kind)
            for phase in ("cold", "warm")
            for kind in ("wire_bytes", "transfer_bytes", "decoded_bytes")
        }
        | {"html_bytes": get(page, "cold", "html_bytes")}
        for name, page in pages.items()
    }


def targets_of(pages: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    out = []
    for target in TARGETS:
        path = target[4]
        ok = {"loopml": get(pages, path[0], "checks", "ok") is True}
        verdict = h.judge(
            target, get(pages, *path), ok, "the page did not show what it must (see its checks)"
        )
        if get(pages, path[0], "status") == "missing":
            verdict["note"] = "the page is missing (HTTP 404)"
        if quick:
            note = (
                "--quick: smaller data than the target's (see meta.sizes); the targets are set at full size"
            )
            verdict["note"] = "; ".join(x for x in (verdict.get("note"), note) if x)
        out.append(verdict)
    return out


def make_meta(args: argparse.Namespace, data: dict[str, Any], precompiled: bool) -> dict[str, Any]:
    from importlib.metadata import version

    return h.meta_head("benchmarks/bench_ui.py", precompiled) | {
        "quick": args.quick,
        "repeats": args.repeats,
        "sizes": data.get("sizes"),
        "workdir": str(args.workdir),
        "data": {k: v for k, v in data.items() if k != "sizes"},
        "sort_query": args.sort_query,
        "chart_selector": args.chart_selector,
        "first_drawing_selector": args.first_drawing_selector,
        "versions": {name: version(name) for name in ("loopml", "playwright", "plotly")},
        "browser": f"{uw.CHROMIUM} headless {' '.join(uw.CHROMIUM_ARGS)}, viewport 1280x900",
        "how": "per repeat and page: a fresh browser context (empty cache) loads the page (cold), "
        "then a new tab of the same context loads it again (warm), then a third (hot: Chromium keeps "
        "V8's compiled code of a script run twice); medians over the repeats. Times in ms from the "
        "navigation's start (Performance Timeline: paint and navigation entries; chart: a "
        "MutationObserver on the selector, then the next animation frame). wire_bytes: CDP "
        "Network.loadingFinished (headers included, 0 for cached responses); transfer_bytes and "
        "decoded_bytes: the navigation and resource entries. server_html_s: the HTML over plain HTTP "
        "(http.client, a new connection each). first_load: the first load after the server started "
        "(a warm-up, reported apart)",
    }


def build_report(
    args: argparse.Namespace,
    data: dict[str, Any],
    pages: dict[str, Any],
    reference: dict[str, Any],
    errors: list[str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    targets = targets_of(pages, args.quick)
    reported = [{"name": n, "what": w, "value": get(pages, *p)} for n, w, p in REPORTED]
    reported.append(
        {
            "name": "plotly_eval",
            "what": "running plotly.min.js alone in a blank tab, median (ms): the floor under chart_ms",
            "value": get(reference, "plotly_eval_ms", "median"),
        }
    )
    figures = {"reported": reported, "bytes_per_page": bytes_per_page(pages), "pages": pages}
    figures["reference"] = reference
    return {"meta": meta, **h.verdicts(targets), **figures, "errors": errors}


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke run: 2,000 runs, a 100,000-point history")
    ap.add_argument(
        "--repeats", type=int, help="cold + warm + hot loads per page (default 5; 2 with --quick)"
    )
    ap.add_argument(
        "--sort-query", default=SORT_QUERY, help=f"query of the sorted table (default {SORT_QUERY})"
    )
    ap.add_argument("--chart-selector", default=CHART_SELECTOR, help="what a drawn plotly chart matches")
    ap.add_argument(
        "--first-drawing-selector",
        default=FIRST_DRAWING_SELECTOR,
        help="what the run page's first (SVG) drawing of a chart matches",
    )
    ap.add_argument("--load-timeout", type=float, default=60.0, help="longest wait for a page or chart (s)")
    ap.add_argument("--start-timeout", type=float, default=180.0, help="longest wait for /health (s)")
    ap.add_argument(
        "--workdir",
        type=Path,
        help="where the data goes (default: a temp dir, removed; a given one is kept and its data reused)",
    )
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    return args


def main() -> int:
    args = parse_args()
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-ui-")
    precompiled = h.precompile_loopml(WHO)
    data = prepare_data(args, uw.QUICK_SIZES if args.quick else uw.FULL_SIZES)
    meta = make_meta(args, data, precompiled)
    port = free_port()
    meta["server_cmd"] = " ".join(["python", *server_command(data, port)[1:]])
    server_dir = args.workdir / "server"
    server_dir.mkdir(parents=True, exist_ok=True)
    env = h.clean_env() | {"LOOPML_HOME": str(server_dir / "home")}
    errors: list[str] = []
    c.log(WHO, "starting the server")
    try:
        proc, meta["server_start_to_healthy_s"] = start_server(
            server_command(data, port), env, server_dir, port, args.start_timeout
        )
    except RuntimeError as exc:
        errors.append(f"server: {exc}")
        return h.finish(build_report(args, data, {}, {}, errors, meta), args, temp, t_all)
    try:
        pages, reference = measure(page_specs(f"http://127.0.0.1:{port}", data, args), args, errors)
    finally:
        stop_server(proc)
    report = build_report(args, data, summarize(pages), reference, errors, meta)
    return h.finish(report, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
